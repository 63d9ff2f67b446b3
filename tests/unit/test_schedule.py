"""The random nemesis: a plan that is a pure function of its seed, within its limits."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from pytest_azchaos.errors import ConfigError
from pytest_azchaos.faults import AzOutage, Nemesis
from pytest_azchaos.faults.schedule import RandomNemesis, Step, candidates, plan
from pytest_azchaos.stack import Stack
from pytest_azchaos.timeline import Timeline
from pytest_azchaos.topology import load

ROOT = Path(__file__).resolve().parents[2]
FAULTS: list[Any] = [AzOutage(az, mode=mode) for az in "abc" for mode in ("power", "freeze")]


def test_same_seed_same_plan_other_seed_other_plan() -> None:
    first = plan(FAULTS, seed=7, duration_s=120)
    assert first == plan(FAULTS, seed=7, duration_s=120)
    assert first != plan(FAULTS, seed=8, duration_s=120)


@pytest.mark.parametrize("seed", range(20))
def test_plan_respects_its_limits_and_never_overlaps(seed: int) -> None:
    steps = plan(FAULTS, seed=seed, duration_s=60, fault_s=(1, 4), pause_s=(0.5, 2))
    assert steps, "a minute holds several faults"
    end = 0.0
    for step in steps:
        assert 1 <= step.duration_s <= 4
        assert 0.5 <= step.offset_s - end <= 2 + 1e-9  # one pause after the previous fault
        end = step.offset_s + step.duration_s
    assert end <= 60


def test_a_plan_too_short_for_any_fault_is_empty() -> None:
    assert plan(FAULTS, seed=1, duration_s=1, fault_s=(5, 10), pause_s=(1, 1)) == []


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"fault_s": (5, 1)}, "fault duration limits must be 0 <= min <= max"),
    ({"pause_s": (-1, 1)}, "pause limits must be 0 <= min <= max"),
    ({"fault_s": (0, 0)}, "the longest fault must be longer than 0 s"),
    ({"duration_s": 0}, "the duration must be > 0"),
])
def test_bad_limits(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        plan(FAULTS, **{"seed": 1, "duration_s": 60, **kwargs})
    with pytest.raises(ConfigError, match="at least one fault"):
        plan([], seed=1, duration_s=60)


def test_candidates_of_the_default_region() -> None:
    stack = Stack(load(ROOT / "environments" / "default.yaml"), run_id="plan", backend=object())  # type: ignore[arg-type]
    subjects = [fault.subject for fault in candidates(stack)]
    assert "outage(a, power)" in subjects and "outage(c, network)" in subjects
    assert "kill(db-primary)" in subjects and "pause(app-b-1)" in subjects
    assert "toxic(a/app->db, latency, jitter=50, latency=200)" in subjects
    assert len(subjects) == len(set(subjects))


class Recorder:
    subject = "f"

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def validate(self, stack: Any) -> None:
        pass

    def inject(self, stack: Any) -> None:
        self.calls.append(("inject", time.monotonic()))

    def heal(self, stack: Any) -> None:
        self.calls.append(("heal", time.monotonic()))


def test_random_nemesis_runs_its_plan_and_stops_healed() -> None:
    fault = Recorder()
    nemesis = Nemesis(object(), Timeline())  # type: ignore[arg-type]
    steps = [Step(0.05, fault, 0.05), Step(0.2, fault, 5.0)]
    with RandomNemesis(nemesis, steps, seed=3):
        time.sleep(0.4)
    assert [c for c, _ in fault.calls] == ["inject", "heal", "inject", "heal"]  # the second healed at stop
    events = [(e.kind, e.subject) for e in nemesis.timeline.events]
    assert events[0] == ("nemesis", "random(seed=3)") and events[1:] == [("inject", "f"), ("heal", "f")] * 2
    assert nemesis.active == []
