from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_azchaos.errors import ConfigError, FaultError
from pytest_azchaos.faults import AzOutage, Nemesis
from pytest_azchaos.timeline import Timeline
from pytest_azchaos.topology import load

ROOT = Path(__file__).resolve().parents[2]


class FakeFault:
    def __init__(self, name: str, calls: list[str], *, heal_fails: bool = False, invalid: bool = False) -> None:
        self.subject, self.calls, self.heal_fails, self.invalid = name, calls, heal_fails, invalid

    def validate(self, stack: Any) -> None:
        if self.invalid:
            raise ConfigError(f"{self.subject} is invalid")

    def inject(self, stack: Any) -> None:
        self.calls.append(f"inject {self.subject}")

    def heal(self, stack: Any) -> None:
        self.calls.append(f"heal {self.subject}")
        if self.heal_fails:
            raise RuntimeError("stuck")


def test_inject_and_heal_are_recorded_once() -> None:
    calls: list[str] = []
    seen: list[tuple[str, str]] = []
    nemesis = Nemesis(object(), Timeline(), lambda kind, fault, event: seen.append((kind, event.subject)))  # type: ignore[arg-type]
    with nemesis.inject(FakeFault("f1", calls)) as active:
        assert nemesis.active == [active]
    active.heal()
    assert calls == ["inject f1", "heal f1"]
    assert [e.kind for e in nemesis.timeline.events] == ["inject", "heal"]
    assert seen == [("inject", "f1"), ("heal", "f1")]


def test_heal_all_heals_newest_first_and_goes_on_after_an_error() -> None:
    calls: list[str] = []
    nemesis = Nemesis(object(), Timeline())  # type: ignore[arg-type]
    nemesis.inject(FakeFault("f1", calls))
    nemesis.inject(FakeFault("f2", calls, heal_fails=True))
    nemesis.inject(FakeFault("f3", calls))
    errors = nemesis.heal_all()
    assert calls[3:] == ["heal f3", "heal f2", "heal f1"]
    assert errors == ["healing f2 failed: stuck"]
    assert nemesis.active == []


def test_invalid_fault_changes_nothing() -> None:
    calls: list[str] = []
    nemesis = Nemesis(object(), Timeline())  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        nemesis.inject(FakeFault("bad", calls, invalid=True))
    assert calls == [] and nemesis.timeline.events == [] and nemesis.active == []


def test_failed_injection_is_a_fault_error_and_stays_healable() -> None:
    class Broken(FakeFault):
        def inject(self, stack: Any) -> None:
            raise RuntimeError("engine said no")

    nemesis = Nemesis(object(), Timeline())  # type: ignore[arg-type]
    with pytest.raises(FaultError, match="injecting broken failed: engine said no"):
        nemesis.inject(Broken("broken", []))
    assert len(nemesis.active) == 1  # it may have half-happened: heal it at the end


class StandIn:
    topology = load(ROOT / "environments" / "minimal.yaml")


def test_az_outage_validation() -> None:
    AzOutage("a").validate(StandIn())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown AZ 'z'"):
        AzOutage("z").validate(StandIn())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="mode 'bogus': expected one of power, freeze"):
        AzOutage("a", mode="bogus").validate(StandIn())  # type: ignore[arg-type]
    assert AzOutage("b", mode="freeze").subject == "outage(b, freeze)"
