from __future__ import annotations

import inspect

import pytest_azchaos
from pytest_azchaos import errors

EXPECTED = [
    "ActiveFault", "AzChaosError", "AzOutage", "Call", "Combined", "ConfigError", "EngineError", "Event", "Experiment",
    "Fault", "FaultError", "History", "ImageBuildError", "InstanceFault", "LinkCut", "LinkToxic", "Nemesis",
    "NotSteady", "Operation", "RandomNemesis", "Request", "SLOResult", "SLOViolation", "Stack", "StackError",
    "Timeline", "Topology", "Traffic", "evaluate", "failed_requests", "load",
]


def test_all_is_pinned() -> None:
    assert pytest_azchaos.__all__ == EXPECTED


def test_all_is_sorted_and_unique() -> None:
    assert pytest_azchaos.__all__ == sorted(set(pytest_azchaos.__all__))


def test_every_name_exists() -> None:
    missing = [name for name in pytest_azchaos.__all__ if not hasattr(pytest_azchaos, name)]
    assert missing == []


def test_every_error_is_an_azchaos_error() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, BaseException)]
    assert {c.__name__ for c in classes} >= {"AzChaosError", "ConfigError", "EngineError", "ImageBuildError",
                                             "StackError", "FaultError", "SLOViolation"}
    assert [c for c in classes if not issubclass(c, errors.AzChaosError)] == []


def test_slo_violation_is_an_assertion_error() -> None:
    assert issubclass(errors.SLOViolation, AssertionError)
    assert not issubclass(errors.ConfigError, AssertionError)


def test_image_build_error_says_which_image_and_step() -> None:
    error = errors.ImageBuildError("nginx", "docker build", "no space left")
    assert str(error) == "building image 'nginx' failed at docker build: no space left"
    assert (error.image, error.step, error.reason) == ("nginx", "docker build", "no space left")
