"""The capacity_restored SLO, from the capacity the watch records on the timeline."""

from __future__ import annotations

import math

import pytest

from pytest_azchaos.checks import capacity_restored, parse
from pytest_azchaos.errors import ConfigError
from pytest_azchaos.history import History
from pytest_azchaos.stack.model import capacity, parse_capacity
from pytest_azchaos.timeline import Timeline

FAULT = "outage(a, power)"


def timeline(*steps: tuple[float, str, str, str]) -> Timeline:
    """Events at seconds after a start (kind, subject, detail)."""
    found = Timeline()
    t0 = found.record("start", "test").mono
    for at, kind, subject, detail in steps:
        found.record(kind, subject, detail, at=t0 + at)
    return found


def test_the_fact_reads_back() -> None:
    assert parse_capacity(capacity(2, 3)) == (2, 3)
    assert parse_capacity("sync standby db-b-1") is None


def test_replacement_before_the_heal_restores_capacity() -> None:
    result = capacity_restored(History(), timeline(
        (0, "capacity", "app", "3/3 healthy"), (1, "inject", FAULT, ""), (1.5, "capacity", "app", "2/3 healthy"),
        (11.8, "capacity", "app", "3/3 healthy"), (40, "heal", FAULT, ""), (45, "capacity", "app", "4/3 healthy")),
        60)
    assert result.passed and result.value == pytest.approx(10.8)
    assert result.message == ("capacity_restored = 10.8 s <= 60.0 s: after outage(a, power), 2 of 3 app replicas "
                              "healthy from +0.5 s, all 3 again at +10.8 s, before the heal")


def test_capacity_back_only_with_the_heal_was_never_restored() -> None:
    result = capacity_restored(History(), timeline(
        (0, "capacity", "app", "3/3 healthy"), (1, "inject", FAULT, ""), (1.5, "capacity", "app", "2/3 healthy"),
        (61, "heal", FAULT, ""), (64, "capacity", "app", "3/3 healthy")), 60)
    assert not result.passed and result.value == math.inf
    assert result.message == ("capacity_restored = never > 60.0 s: after outage(a, power), 2 of 3 app replicas "
                              "healthy from +0.5 s; no replacement before the heal at +60.0 s (does the app "
                              "service set replace_after?)")


def test_too_slow_a_replacement_breaks_it_with_its_time() -> None:
    result = capacity_restored(History(), timeline(
        (0, "capacity", "app", "3/3 healthy"), (1, "inject", FAULT, ""), (1.5, "capacity", "app", "2/3 healthy"),
        (5, "capacity", "app", "1/3 healthy"), (71, "capacity", "app", "3/3 healthy"), (80, "heal", FAULT, "")), 60)
    assert not result.passed and result.value == pytest.approx(70)
    assert "1 of 3 app replicas healthy from +0.5 s, all 3 again at +70.0 s" in result.message


def test_no_capacity_lost_passes_with_0() -> None:
    result = capacity_restored(History(), timeline(
        (0, "capacity", "app", "3/3 healthy"), (1, "inject", "latency(a/app->db)", ""),
        (9, "heal", "latency(a/app->db)", "")), 60)
    assert result.passed and result.value == 0 and "kept all its replicas healthy" in result.message


def test_asked_while_the_fault_acts_before_a_loss_was_seen_nothing_is_proven() -> None:
    """Not a vacuous pass: the watch records changes only, so a loop that asks right after the
    outage began would otherwise read "kept all its replicas healthy" and heal at once."""
    result = capacity_restored(History(), timeline(
        (0, "capacity", "app", "3/3 healthy"), (1, "inject", FAULT, "")), 60)
    assert not result.passed and math.isnan(result.value)
    assert result.message == ("capacity_restored: outage(a, power) still acts and no app replica has been seen "
                              "lost yet, so nothing was proven")
    lost_and_back = capacity_restored(History(), timeline(
        (0, "capacity", "app", "3/3 healthy"), (1, "inject", FAULT, ""), (2, "capacity", "app", "2/3 healthy"),
        (9, "capacity", "app", "3/3 healthy")), 60)
    assert lost_and_back.passed and lost_and_back.value == pytest.approx(8)


def test_the_worst_service_counts() -> None:
    result = capacity_restored(History(), timeline(
        (0, "capacity", "app", "3/3 healthy"), (0, "capacity", "worker", "3/3 healthy"), (1, "inject", FAULT, ""),
        (2, "capacity", "app", "2/3 healthy"), (2, "capacity", "worker", "2/3 healthy"),
        (6, "capacity", "app", "3/3 healthy"), (61, "heal", FAULT, "")), 60)
    assert not result.passed and "worker replicas" in result.message


def test_a_service_not_seen_lost_yet_keeps_the_verdict_unproven_while_the_fault_acts() -> None:
    result = capacity_restored(History(), timeline(
        (0, "capacity", "app", "3/3 healthy"), (0, "capacity", "worker", "3/3 healthy"), (1, "inject", FAULT, ""),
        (2, "capacity", "app", "2/3 healthy"), (6, "capacity", "app", "3/3 healthy")), 60)
    assert not result.passed and "no worker replica has been seen lost yet" in result.message


def test_without_a_fault_or_a_watched_app_nothing_is_proven() -> None:
    assert not capacity_restored(History(), timeline((0, "capacity", "app", "3/3 healthy")), 60).passed
    assert "no fault was injected" in capacity_restored(History(), timeline(), 60).message
    result = capacity_restored(History(), timeline((1, "inject", FAULT, "")), 60)
    assert not result.passed and "capacity was not watched" in result.message


def test_its_limit_is_a_duration() -> None:
    assert parse({"capacity_restored": "3m"}) == {"capacity_restored": 180}
    with pytest.raises(ConfigError, match="SLO capacity_restored"):
        parse({"capacity_restored": "soon"})
