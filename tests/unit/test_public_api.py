from __future__ import annotations

import inspect

import pytest_azchaos
from pytest_azchaos import errors

EXPECTED = {
    "ActiveFault", "AzChaosError", "AzOutage", "ConfigError", "EngineError", "Event", "Experiment", "Fault",
    "FaultError", "History", "ImageBuildError", "Nemesis", "Operation", "Request", "SLOResult", "SLOViolation",
    "Stack", "StackError", "Timeline", "Topology", "Traffic", "failed_requests", "load",
}


def test_all_is_pinned_and_sorted() -> None:
    assert set(pytest_azchaos.__all__) == EXPECTED
    assert pytest_azchaos.__all__ == sorted(pytest_azchaos.__all__)
    for name in pytest_azchaos.__all__:
        assert hasattr(pytest_azchaos, name)


def test_every_error_is_an_azchaos_error() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, Exception)]
    assert len(classes) >= 7
    assert all(issubclass(c, errors.AzChaosError) for c in classes)
    assert issubclass(errors.SLOViolation, AssertionError)
