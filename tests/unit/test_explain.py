"""Every broken SLO names its cause from the timeline (pytest_azchaos.explain)."""

from __future__ import annotations

from dataclasses import replace

from pytest_azchaos.checks import failed_requests, latency, lost_writes
from pytest_azchaos.client import digest
from pytest_azchaos.explain import state_at
from pytest_azchaos.history import FAILED, OK, READ, WRITE, History, Operation
from pytest_azchaos.timeline import Timeline


def timeline(*events: tuple[float, str, str, str]) -> Timeline:
    found = Timeline()
    for at, kind, subject, detail in events:
        found.record(kind, subject, detail, at=at)
    return found


def op(t: float, outcome: str = OK, *, kind: str = "read", status: int | None = 200, latency_s: float = 0.01,
       key: str | None = None) -> Operation:
    action = WRITE if key else READ
    return Operation(kind, t, t, t + latency_s, outcome, status, None, key, action, digest(f"v-{key}") if key else None)


def test_writes_acknowledged_without_a_sync_standby_are_blamed_on_it() -> None:
    events = timeline((100.0, "sync", "db", "no synchronous standby"), (104.1, "inject", "outage(a, power)", ""),
                      (110.0, "failover", "db", "leader db-a-1 -> db-b-1"))
    acked = [op(t, key=f"k{t}", kind="write_item") for t in (99.0, 100.0, 102.0, 104.0)]
    readback = {"k99.0": digest("v-k99.0"), "k100.0": None, "k102.0": None, "k104.0": None}
    result = lost_writes(History(acked), events, 0, readback=readback)
    assert not result.passed and result.value == 3
    assert result.message.endswith(
        "cause: 3 writes acknowledged while the DB had no synchronous standby (-4.1 s to -0.1 s, before inject "
        "outage(a, power)): asynchronous commits lost with the primary")


def test_writes_lost_with_a_sync_standby_say_so() -> None:
    events = timeline((100.0, "sync", "db", "sync standby db-b-1"), (104.0, "inject", "outage(a, power)", ""))
    result = lost_writes(History([op(103.0, key="k", kind="write_item")]), events, 0, readback={"k": None})
    assert result.message.endswith("cause: 1 writes acknowledged while the timeline shows a synchronous standby "
                                   "and no fault (-1.0 s to -1.0 s, before inject outage(a, power))")


def test_failed_requests_are_grouped_by_status_and_unhealthy_target() -> None:
    events = timeline((10.0, "inject", "outage(a, power)", ""), (11.0, "target", "app-a-1", "unhealthy"),
                      (14.0, "target", "app-a-1", "healthy"), (14.5, "heal", "outage(a, power)", ""))
    bad = [op(t, FAILED, status=502) for t in (11.5, 12.0, 13.0)] + [op(10.5, FAILED, status=504)]
    result = failed_requests(History(bad), events)
    assert result.message.endswith(
        "by cause: 3x read HTTP 502 during outage(a, power), while target app-a-1 was unhealthy (+1.5 s to +3.0 s "
        "after inject outage(a, power)); 1x read HTTP 504 during outage(a, power) (+0.5 s to +0.5 s after inject "
        "outage(a, power))")


def test_a_request_under_way_when_a_fault_began_is_put_down_to_it() -> None:
    events = timeline((10.0, "inject", "outage(a, power)", ""), (14.5, "heal", "outage(a, power)", ""))
    bad = [op(9.9, FAILED, status=503, latency_s=0.3), op(9.5, FAILED, status=503, latency_s=0.2)]
    bad += [op(t, FAILED, status=503) for t in (10.5, 11.0)]
    result = failed_requests(History(bad), events)
    assert result.message.endswith(
        "by cause: 2x read HTTP 503 during outage(a, power) (+0.5 s to +1.0 s after inject outage(a, power)); "
        "1x read HTTP 503 with no fault or unhealthy part on the timeline (-0.5 s to -0.5 s after inject "
        "outage(a, power)); 1x read HTTP 503 under way when outage(a, power) began (-0.1 s to -0.1 s after inject "
        "outage(a, power))")


def test_a_tight_p99_points_at_the_stress_window() -> None:
    events = timeline((20.0, "inject", "stress(all, cpu 90%)", ""), (25.0, "heal", "stress(all, cpu 90%)", ""))
    ops = [op(t, latency_s=0.01) for t in range(10, 20)] + [op(t, latency_s=0.9) for t in (21.0, 22.0, 23.0)]
    ops += [op(26.0, latency_s=0.5)]
    result = latency(History(ops), events, 0.1, q=99, name="p99")
    assert result.message.endswith("by cause: 3x read slow during stress(all, cpu 90%) (+1.0 s to +3.0 s after "
                                   "inject stress(all, cpu 90%)); 1x read slow with no fault or unhealthy part on "
                                   "the timeline (+6.0 s to +6.0 s after inject stress(all, cpu 90%))")


def test_state_follows_leader_and_sync_events() -> None:
    events = timeline((1.0, "db-leader", "db", "no leader"), (2.0, "failover", "db", "leader a -> b"),
                      (3.0, "sync", "db", "no synchronous standby"), (4.0, "sync", "db", "sync standby db-a-1")).events
    assert state_at(events, 1.5) == ("while db had no leader",)
    assert state_at(events, 3.5) == ("while db had no synchronous standby",)
    assert state_at(events, 4.5) == ()


def test_state_says_when_the_db_endpoint_had_no_node_behind_it() -> None:
    events = timeline((1.0, "endpoint", "db", "to db-a-1"), (2.0, "endpoint", "db", "to none"),
                      (3.0, "endpoint", "db", "to db-b-1")).events
    assert state_at(events, 1.5) == ()
    assert state_at(events, 2.5) == ("while db had no node behind its endpoint",)
    assert state_at(events, 3.5) == ()


def test_failed_requests_name_the_upstream_the_lb_tried() -> None:
    events = timeline((10.0, "inject", "outage(a, power)", ""), (14.5, "heal", "outage(a, power)", ""))
    bad = [replace(op(t, FAILED, status=502), upstream="app-a-1") for t in (11.0, 12.0)]
    bad += [replace(op(13.0, FAILED, status=504), upstream="app-b-1 > app-c-1")]
    bad += [Operation("read", 13.5, 13.5, 13.6, FAILED, error="ConnectionRefusedError", action=READ)]
    result = failed_requests(History(bad), events)
    assert result.message.endswith(
        "by cause: 2x read HTTP 502 from app-a-1 during outage(a, power) (+1.0 s to +2.0 s after inject "
        "outage(a, power)); 1x read HTTP 504 from app-b-1 > app-c-1 during outage(a, power) (+3.0 s to +3.0 s "
        "after inject outage(a, power)); 1x read ConnectionRefusedError during outage(a, power) (+3.5 s to +3.5 s "
        "after inject outage(a, power))")


def test_one_group_from_one_upstream_still_names_it() -> None:
    events = timeline((10.0, "inject", "outage(a, power)", ""))
    bad = [replace(op(t, FAILED, status=502), upstream="app-a-1") for t in (11.0, 12.0)]
    assert "2x read HTTP 502 from app-a-1 during outage(a, power)" in failed_requests(History(bad), events).message
