"""bench/soak.py: which fault window a failed request belongs to."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_azchaos.history import FAILED, Operation
from pytest_azchaos.timeline import Event

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


@pytest.fixture(scope="module")
def soak() -> Any:
    spec = importlib.util.spec_from_file_location("soak_under_test", SOAK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def failed(scheduled: float, end: float) -> Operation:
    return Operation("read", scheduled, scheduled, end, FAILED, 502, "HTTP 502")


def test_windows_pair_each_inject_with_its_heal_and_keep_one_never_healed(soak: Any) -> None:
    events = [Event(10, 0, "inject", "outage(a, power)"), Event(20, 0, "heal", "outage(a, power)"),
              Event(30, 0, "inject", "pause(app-c-1)")]
    windows = soak.fault_windows(events)
    assert [(w.subject, w.start, w.end) for w in windows] == [
        ("outage(a, power)", 10, 20), ("pause(app-c-1)", 30, float("inf"))]


def test_a_request_under_way_when_a_fault_starts_belongs_to_it(soak: Any) -> None:
    windows = [soak.Window("outage(b, freeze)", 10, 20)]
    assert soak.where(failed(9.5, 15), windows, 5) == "during outage(b, freeze)"
    assert soak.where(failed(22, 22.1), windows, 5) == "after outage(b, freeze)"
    assert soak.where(failed(9, 9.9), windows, 5) == "outside"
    assert soak.where(failed(25.5, 26), windows, 5) == "outside"
