from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_azchaos.errors import ConfigError, FaultError
from pytest_azchaos.faults import AzOutage, Combined, Nemesis
from pytest_azchaos.timeline import Event, Timeline
from pytest_azchaos.topology import load

ROOT = Path(__file__).resolve().parents[2]
STACK: Any = object()  # the fake faults never look at the stack


class FakeFault:
    def __init__(self, name: str, calls: list[str], *, heal_fails: bool = False, invalid: bool = False) -> None:
        self.subject, self.calls, self.heal_fails, self.invalid = name, calls, heal_fails, invalid

    def validate(self, stack: Any) -> None:
        self.calls.append(f"validate {self.subject}")
        if self.invalid:
            raise ConfigError(f"{self.subject} is invalid")

    def inject(self, stack: Any) -> None:
        self.calls.append(f"inject {self.subject}")

    def heal(self, stack: Any) -> None:
        self.calls.append(f"heal {self.subject}")
        if self.heal_fails:
            raise RuntimeError("stuck")


def test_inject_validates_then_injects_and_records() -> None:
    calls: list[str] = []
    nemesis = Nemesis(STACK, Timeline())
    active = nemesis.inject(FakeFault("f1", calls))
    assert calls == ["validate f1", "inject f1"]
    assert [(e.kind, e.subject) for e in nemesis.timeline.events] == [("inject", "f1")]
    assert nemesis.active == [active] and not active.healed


def test_heal_records_and_twice_is_a_no_op() -> None:
    calls: list[str] = []
    nemesis = Nemesis(STACK, Timeline())
    active = nemesis.inject(FakeFault("f1", calls))
    active.heal()
    active.heal()
    nemesis.heal(active)
    assert calls == ["validate f1", "inject f1", "heal f1"]
    assert [e.kind for e in nemesis.timeline.events] == ["inject", "heal"]
    assert nemesis.active == [] and active.healed


def test_a_heal_is_stamped_when_it_begins_and_events_read_in_time_order() -> None:
    """A heal may wait for the healed members to be ready; its effect began before that, and what
    the watch saw meanwhile (a replica back) must not read as before the heal."""
    import time

    class SlowHeal(FakeFault):
        def heal(self, stack: Any) -> None:
            time.sleep(0.3)
            self.timeline.record("target", "app-a-1", "healthy")  # seen while healing

    nemesis = Nemesis(STACK, Timeline())
    fault = SlowHeal("f1", [])
    fault.timeline = nemesis.timeline  # type: ignore[attr-defined]
    active = nemesis.inject(fault)
    began = time.monotonic()
    active.heal()
    heal, seen = nemesis.timeline.first("heal"), nemesis.timeline.first("target")
    # Stamped when it began: before what the heal itself made happen (an order, not a time limit,
    # so that a loaded host cannot break it).
    assert heal is not None and seen is not None and began <= heal.mono < seen.mono
    assert [e.kind for e in nemesis.timeline.events] == ["inject", "heal", "target"]


def test_leaving_the_with_block_heals() -> None:
    calls: list[str] = []
    nemesis = Nemesis(STACK, Timeline())
    with nemesis.inject(FakeFault("f1", calls)):
        assert calls[-1] == "inject f1"
    assert calls[-1] == "heal f1" and nemesis.active == []


def test_observer_sees_the_fault_and_the_recorded_event() -> None:
    seen: list[tuple[str, Any, Event]] = []
    nemesis = Nemesis(STACK, Timeline(), lambda kind, fault, event: seen.append((kind, fault, event)))
    fault = FakeFault("f1", [])
    nemesis.inject(fault).heal()
    inject, heal = nemesis.timeline.events
    assert seen == [("inject", fault, inject), ("heal", fault, heal)]


def test_heal_all_heals_newest_first_and_goes_on_after_an_error() -> None:
    calls: list[str] = []
    nemesis = Nemesis(STACK, Timeline())
    for name, fails in (("f1", False), ("f2", True), ("f3", False)):
        nemesis.inject(FakeFault(name, calls, heal_fails=fails))
    errors = nemesis.heal_all()
    assert [c for c in calls if c.startswith("heal")] == ["heal f3", "heal f2", "heal f1"]
    assert errors == ["healing f2 failed: stuck"]
    assert nemesis.active == []
    assert [e.kind for e in nemesis.timeline.events][3:] == ["heal", "heal", "heal"], "a failed heal is recorded too"
    assert nemesis.heal_all() == []


def test_failed_heal_is_a_fault_error() -> None:
    nemesis = Nemesis(STACK, Timeline())
    active = nemesis.inject(FakeFault("f1", [], heal_fails=True))
    with pytest.raises(FaultError, match="healing f1 failed: stuck"):
        active.heal()
    assert nemesis.active == []


def test_invalid_fault_changes_nothing() -> None:
    calls: list[str] = []
    seen: list[str] = []
    nemesis = Nemesis(STACK, Timeline(), lambda kind, fault, event: seen.append(kind))
    with pytest.raises(ConfigError, match="bad is invalid"):
        nemesis.inject(FakeFault("bad", calls, invalid=True))
    assert calls == ["validate bad"]
    assert nemesis.timeline.events == [] and nemesis.active == [] and seen == []


def test_failed_injection_is_a_fault_error_and_stays_healable() -> None:
    class Broken(FakeFault):
        def inject(self, stack: Any) -> None:
            raise RuntimeError("engine said no")

    nemesis = Nemesis(STACK, Timeline())
    with pytest.raises(FaultError, match="injecting broken failed: engine said no"):
        nemesis.inject(Broken("broken", []))
    assert len(nemesis.active) == 1  # it may have half-happened: heal it at the end
    assert nemesis.heal_all() == []


class StandIn:
    topology = load(ROOT / "environments" / "minimal.yaml")


def test_az_outage_validation() -> None:
    for mode in ("power", "freeze", "network"):
        AzOutage("a", mode=mode).validate(StandIn())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown AZ 'z': expected one of a, b"):
        AzOutage("z").validate(StandIn())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="AZ outage mode 'bogus': expected one of power, freeze, network"):
        AzOutage("a", mode="bogus").validate(StandIn())  # type: ignore[arg-type]


def test_az_outage_subject() -> None:
    assert AzOutage("a").subject == "outage(a, power)"
    assert AzOutage("b", mode="freeze").subject == "outage(b, freeze)"


# --- durations and composition ----------------------------------------------------------------------------


def test_a_fault_with_a_duration_heals_itself_once() -> None:
    calls: list[str] = []
    nemesis = Nemesis(STACK, Timeline())
    active = nemesis.inject(FakeFault("f1", calls), duration="100ms")
    assert not active.healed and active.duration_s == 0.1
    assert active.wait(5)
    active.heal()  # already healed: a no-op
    assert calls == ["validate f1", "inject f1", "heal f1"] and nemesis.active == []
    kinds = [(e.kind, e.subject, e.detail) for e in nemesis.timeline.events]
    assert kinds == [("inject", "f1", "for 0.1 s"), ("heal", "f1", "")]
    heal = nemesis.timeline.events[1].mono - nemesis.timeline.events[0].mono
    assert 0.09 <= heal < 2


def test_healing_before_the_duration_cancels_the_timer() -> None:
    calls: list[str] = []
    nemesis = Nemesis(STACK, Timeline())
    active = nemesis.inject(FakeFault("f1", calls), duration="10s")
    active.heal()
    assert active.wait(0) and calls.count("heal f1") == 1


def test_a_failed_heal_when_the_duration_is_up_is_reported_by_heal_all() -> None:
    nemesis = Nemesis(STACK, Timeline())
    active = nemesis.inject(FakeFault("f1", [], heal_fails=True), duration="50ms")
    assert active.wait(5)
    assert active.error is not None
    assert nemesis.heal_all() == ["healing f1 failed: stuck"]
    assert nemesis.heal_all() == []


@pytest.mark.parametrize("duration", ["-1s", "soon", True])
def test_bad_durations_change_nothing(duration: object) -> None:
    calls: list[str] = []
    nemesis = Nemesis(STACK, Timeline())
    with pytest.raises(ConfigError, match="fault duration"):
        nemesis.inject(FakeFault("f1", calls), duration=duration)  # type: ignore[arg-type]
    assert calls == [] and nemesis.timeline.events == []


def test_combined_injects_in_order_and_heals_in_reverse() -> None:
    calls: list[str] = []
    nemesis = Nemesis(STACK, Timeline())
    with nemesis.inject(Combined((FakeFault("a", calls), FakeFault("b", calls)))) as active:
        assert active.fault.subject == "a + b"
    assert calls == ["validate a", "validate b", "inject a", "inject b", "heal b", "heal a"]


def test_combined_heals_what_it_injected_when_one_fails() -> None:
    calls: list[str] = []

    class Broken(FakeFault):
        def inject(self, stack: Any) -> None:
            raise RuntimeError("no")

    with pytest.raises(FaultError, match="injecting a \\+ b failed: no"):
        Nemesis(STACK, Timeline()).inject(Combined((FakeFault("a", calls), Broken("b", calls))))
    assert calls == ["validate a", "validate b", "inject a", "heal a"]


def test_combined_heals_every_part_even_if_one_fails() -> None:
    calls: list[str] = []
    nemesis = Nemesis(STACK, Timeline())
    active = nemesis.inject(Combined((FakeFault("a", calls), FakeFault("b", calls, heal_fails=True))))
    with pytest.raises(FaultError, match="b: stuck"):
        active.heal()
    assert calls[-2:] == ["heal b", "heal a"]
