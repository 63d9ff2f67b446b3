"""The documented import path of the compose export: see :mod:`pytest_azchaos.stack.compose`."""

from __future__ import annotations

from .stack.compose import export

__all__ = ["export"]
