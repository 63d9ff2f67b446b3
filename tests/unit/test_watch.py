"""The health watch turns changes between two looks at the stack into timeline events."""

from __future__ import annotations

from typing import Any

from pytest_azchaos.checks import FAILOVER
from pytest_azchaos.timeline import Timeline
from pytest_azchaos.watch import HealthWatch


def watch(first: dict[str, str]) -> HealthWatch:
    w = HealthWatch(stack=None, timeline=Timeline())  # type: ignore[arg-type]
    w.snapshot = lambda: dict(first)  # type: ignore[method-assign]
    w.facts = w.snapshot()
    w._leaders = {k[7:]: v for k, v in first.items() if k.startswith("leader ") and v != "none"}
    return w


def events(w: HealthWatch) -> list[tuple[Any, ...]]:
    return [(e.kind, e.subject, e.detail) for e in w.timeline.events]


def test_only_changes_are_events() -> None:
    w = watch({"target app-a-1": "healthy", "leader db": "db-a-1", "drives s3": "6/6 online"})
    w.update({"target app-a-1": "healthy", "leader db": "db-a-1", "drives s3": "6/6 online"})
    assert events(w) == []
    w.update({"target app-a-1": "unhealthy", "leader db": "db-a-1", "drives s3": "4/6 online"})
    w.update({"target app-a-1": "healthy", "leader db": "db-a-1", "drives s3": "6/6 online"})
    assert events(w) == [("target", "app-a-1", "unhealthy"), ("drives", "s3", "4/6 online"),
                         ("target", "app-a-1", "healthy"), ("drives", "s3", "6/6 online")]


def test_a_failover_names_the_old_and_the_new_leader_across_a_gap_without_one() -> None:
    w = watch({"leader db": "db-a-1"})
    w.update({"leader db": "none"})
    w.update({"leader db": "db-b-1"})
    assert events(w) == [("db-leader", "db", "no leader"), (FAILOVER, "db", "leader db-a-1 -> db-b-1")]


def test_the_same_leader_coming_back_is_no_failover() -> None:
    w = watch({"leader db": "db-a-1"})
    w.update({"leader db": "none"})
    w.update({"leader db": "db-a-1"})
    assert events(w) == [("db-leader", "db", "no leader"), ("db-leader", "db", "leader db-a-1")]


def test_new_members_appear_without_an_event() -> None:
    w = watch({"target app-a-1": "healthy"})
    w.update({"target app-a-1": "healthy", "target app-b-2": "healthy"})
    assert events(w) == []
