"""The hooks pytest-azchaos adds; other plugins implement them, and so do our own reporters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .checks import SLOResult
    from .experiment import Experiment
    from .faults import Fault
    from .faults.registry import FaultRegistry
    from .stack import Stack
    from .timeline import Event


@pytest.hookspec(firstresult=True)
def pytest_azchaos_make_stack(config: pytest.Config, env_path: str) -> Stack | None:
    """Make the (not yet started) stack for the session; the first non-None result wins."""


def pytest_azchaos_stack_ready(stack: Stack) -> None:
    """Called when a stack is up and ready: the session's, and each one an ``azchaos_env`` marker starts."""


def pytest_azchaos_fault_injected(fault: Fault, event: Event) -> None:
    """Called after a fault was injected."""


def pytest_azchaos_fault_healed(fault: Fault, event: Event) -> None:
    """Called after a fault was healed."""


def pytest_azchaos_slo_evaluated(item: pytest.Item, results: list[SLOResult]) -> None:
    """Called with the SLO verdicts of a test, after it ran."""


@pytest.hookspec(firstresult=True)
def pytest_azchaos_read_back(stack: Stack, keys: list[str]) -> dict[str, str | None] | None:
    """Read acknowledged write keys back from the stores: {key: SHA-256 of the stored value, None if missing}."""


def pytest_azchaos_experiment_finished(item: pytest.Item, experiment: Experiment) -> None:
    """Called after a test's experiment ended (traffic stopped, faults healed), before its SLOs are checked."""


def pytest_azchaos_environments_used(environments: list[dict[str, Any]]) -> None:
    """Called once at the end of the run with the facts of every stack it used, in the order they
    started (report.json's ``environments``: AZs, services, images, the roles' facts at start);
    not called when no stack was used."""


def pytest_azchaos_add_fault_types(registry: FaultRegistry) -> None:
    """Add fault types by name, e.g. ``registry.add("disk-full", DiskFull)``, for ``azchaos.fault(name)``."""
