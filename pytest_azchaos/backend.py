"""The documented import path of the backend: see :mod:`pytest_azchaos.stack.backend`."""

from __future__ import annotations

from .stack.backend import (
    LABEL_AZ,
    LABEL_KEPT,
    LABEL_OWNER,
    LABEL_ROLE,
    LABEL_RUN,
    Backend,
    ContainerSpec,
    DockerBackend,
    connect,
    engine_call,
    engine_error,
    interrupts_deferred,
)

__all__ = ["LABEL_AZ", "LABEL_KEPT", "LABEL_OWNER", "LABEL_ROLE", "LABEL_RUN", "Backend", "ContainerSpec",
           "DockerBackend", "connect", "engine_call", "engine_error", "interrupts_deferred"]
