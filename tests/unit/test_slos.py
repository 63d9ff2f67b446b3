"""The SLO checks beyond failed_requests, on hand-made histories: each has a case where it fails."""

from __future__ import annotations

import math

import pytest

from pytest_azchaos import checks
from pytest_azchaos.checks import (
    FAILOVER,
    availability,
    evaluate,
    failover_time,
    latency,
    latency_windows,
    lost_writes,
    parse,
    percentile,
    recovery_time,
    stale_reads,
    write_downtime,
)
from pytest_azchaos.errors import ConfigError
from pytest_azchaos.readback import Found
from pytest_azchaos.timeline import Event, Timeline
from pytest_azchaos.traffic import FAILED, OK, READ, UNKNOWN, WRITE, History, Operation, digest


def op(t: float, outcome: str = OK, *, kind: str = "read", took: float = 0.01, action: str = READ,
       key: str | None = None, value: str | None = None) -> Operation:
    return Operation(kind, scheduled=t, start=t, end=t + took, outcome=outcome, key=key, action=action,
                     value=value)


def write(t: float, outcome: str = OK, *, key: str | None = None, took: float = 0.01) -> Operation:
    k = key or f"k{t}"
    return op(t, outcome, kind="write", action=WRITE, took=took, key=k if outcome == OK else None,
              value=digest(f"v-{k}") if outcome == OK else None)


def timeline_at(*events: tuple[float, str, str, str]) -> Timeline:
    timeline = Timeline()
    timeline._events = [Event(mono, mono, kind, subject, detail) for mono, kind, subject, detail in events]
    return timeline


FAULT = (100.0, "inject", "outage(a, power)", "")


# --- percentiles and latency ------------------------------------------------------------------------


def test_percentile_is_exact_nearest_rank() -> None:
    values = [i / 1000 for i in range(1, 1001)]  # 1 ms .. 1000 ms
    assert percentile(values, 50) == 0.5
    assert percentile(values, 99) == 0.99
    assert percentile(values, 99.9) == 0.999
    assert percentile(values, 100) == 1.0
    assert percentile([0.2], 99) == 0.2
    assert math.isnan(percentile([], 50))


def test_latency_passes_and_fails_with_when() -> None:
    timeline = timeline_at(FAULT)
    ops = [op(100 + i * 0.1) for i in range(98)] + [op(102.0, took=0.8), op(103.0, took=0.9)]
    history = History(ops)
    assert latency(history, timeline, 0.5, q=50, name="p50").passed
    failed = latency(history, timeline, 0.5, q=99, name="p99")
    assert not failed.passed and failed.value == pytest.approx(0.8) and failed.unit == "s"
    assert failed.message == ("p99 = 800 ms > 500 ms (of 100 answered requests): 2 took longer, "
                              "between +2.0 s and +3.0 s after inject outage(a, power)")


def test_latency_ignores_unknown_outcomes_and_needs_answers() -> None:
    history = History([op(1, UNKNOWN, took=10), op(2)])
    assert latency(history, Timeline(), 0.1, q=100, name="max_latency").passed
    assert not latency(History([op(1, UNKNOWN)]), Timeline(), 1, q=99, name="p99").passed


def test_latency_windows() -> None:
    history = History([op(0.0, took=0.1), op(0.5, took=0.3), op(1.2, took=0.05)])
    windows = latency_windows(history, window_s=1.0)
    assert [w["count"] for w in windows] == [2, 1]
    assert windows[0]["p50"] == pytest.approx(0.1) and windows[0]["max"] == pytest.approx(0.3)
    assert set(windows[0]) == {"start", "count", "p50", "p90", "p99", "p999", "max"}
    assert latency_windows(History()) == []


# --- availability -------------------------------------------------------------------------------------


def test_availability_is_a_lower_bound() -> None:
    history = History([op(i) for i in range(999)] + [op(999, FAILED)])
    assert availability(history, Timeline(), 0.999).passed
    result = availability(history, Timeline(), 0.9995)
    assert not result.passed and result.message.startswith("availability = 99.90% < 99.95% (of 1000 requests)")
    assert not availability(History(), Timeline(), 0.5).passed


# --- write downtime, failover, recovery ---------------------------------------------------------------


def test_write_downtime_is_the_longest_failing_stretch() -> None:
    timeline = timeline_at(FAULT)
    history = History([write(99), write(101, FAILED), write(102, FAILED), write(109), write(110, FAILED),
                       write(111), op(105, FAILED)])
    result = write_downtime(history, timeline, 5)
    assert not result.passed and result.value == 8
    assert result.message == ("write_downtime = 8.0 s > 5.0 s: write failed from +1.0 s after inject "
                              "outage(a, power) until +9.0 s after inject outage(a, power)")
    assert write_downtime(history, timeline, 8).passed


def test_write_downtime_counts_kinds_apart() -> None:
    """S3 puts that keep working must not hide DB writes that fail."""
    put = [op(100.5 + i, kind="put", action=WRITE, key=f"p{i}", value="x") for i in range(10)]
    history = History([write(99), write(101, FAILED), write(105, FAILED), write(108), *put])
    result = write_downtime(history, timeline_at(FAULT), 5)
    assert not result.passed and result.value == 7 and "write failed from +1.0 s" in result.message


def test_failover_time_looks_at_the_kinds_that_failed() -> None:
    timeline = timeline_at(FAULT, (108.0, FAILOVER, "db", "leader db-a-1 -> db-b-1"))
    put = [op(100.5 + i, kind="put", action=WRITE, key=f"p{i}", value="x") for i in range(12)]
    history = History([write(101, FAILED), write(107, FAILED), write(109), *put])
    assert failover_time(history, timeline, 120).value == pytest.approx(9.01)


def test_write_downtime_never_recovered_and_no_failures() -> None:
    result = write_downtime(History([write(1), write(2, FAILED)]), Timeline(), 1000)
    assert not result.passed and math.isinf(result.value) and "until the end of the test" in result.message
    assert write_downtime(History([write(1), write(2)]), Timeline(), 0).passed
    assert not write_downtime(History([op(1)]), Timeline(), 10).passed  # no writes: nothing proven


def test_failover_time_from_fault_to_first_write_after_the_new_leader() -> None:
    timeline = timeline_at(FAULT, (108.0, FAILOVER, "db", "leader db-a-1 -> db-b-1"))
    history = History([write(99), write(101, FAILED), write(107.9, FAILED, took=0.5), write(108.5, took=0.2)])
    result = failover_time(history, timeline, 120)
    assert result.passed and result.value == pytest.approx(8.7)
    assert result.message == ("failover_time = 8.7 s <= 120.0 s: inject outage(a, power), then leader db-a-1 -> "
                              "db-b-1 at +8.0 s, first write acknowledged at +8.7 s")
    assert not failover_time(history, timeline, 5).passed


def test_failover_time_when_no_write_succeeds_after_the_failover() -> None:
    timeline = timeline_at(FAULT, (108.0, FAILOVER, "db", "leader db-a-1 -> db-b-1"))
    result = failover_time(History([write(99), write(109, FAILED)]), timeline, 120)
    assert not result.passed and math.isinf(result.value)
    assert "no write was acknowledged after it" in result.message


def test_failover_time_without_a_leader_change() -> None:
    timeline = timeline_at(FAULT)
    assert failover_time(History([write(99), write(101)]), timeline, 0).passed
    stalled = History([write(99), write(101, FAILED), write(130, FAILED)])
    result = failover_time(stalled, timeline, 120)
    assert not result.passed and "no DB leader change" in result.message and "never came back" in result.message
    came_back = failover_time(History([write(101, FAILED), write(104)]), timeline, 120)
    assert came_back.passed and came_back.value == pytest.approx(4.01)
    assert not failover_time(History([write(1)]), Timeline(), 120).passed  # no fault: nothing proven


def test_recovery_time_back_to_baseline_and_staying() -> None:
    timeline = timeline_at(FAULT)
    ops = [op(90 + i) for i in range(10)]  # baseline: no errors
    ops += [op(100.2, FAILED), op(101.5), op(102.5, FAILED), op(103.5), op(104.5)]
    result = recovery_time(History(ops), timeline, 5)
    assert result.passed and result.value == pytest.approx(3.0)
    assert "baseline error rate 0.0%" in result.message
    assert not recovery_time(History(ops), timeline, 2).passed
    never = recovery_time(History([*ops, op(110, FAILED)]), timeline, 60)
    assert not never.passed and "still above it at the end" in never.message


def test_recovery_time_zero_when_errors_never_rose_and_unproven_without_fault() -> None:
    assert recovery_time(History([op(99), op(101)]), timeline_at(FAULT), 0).value == 0
    assert not recovery_time(History([op(1)]), Timeline(), 10).passed


# --- lost writes and stale reads ------------------------------------------------------------------------


def test_lost_writes_counts_missing_and_changed_and_reports_unknown() -> None:
    timeline = timeline_at(FAULT)
    writes = [write(99, key="a"), write(101, key="b"), write(102, key="c"), write(103, UNKNOWN)]
    history = History(writes)
    everything = {"a": digest("v-a"), "b": digest("v-b"), "c": digest("v-c")}
    assert lost_writes(history, timeline, 0, readback=everything).passed
    result = lost_writes(history, timeline, 0, readback={"a": digest("v-a"), "b": None, "c": digest("other")})
    assert not result.passed and result.value == 2
    assert result.message == ("lost_writes = 2 > 0 (of 3 acknowledged writes; 1 with unknown outcome, not "
                              "counted): 1 missing, 1 changed, acknowledged between +1.0 s and +2.0 s after "
                              "inject outage(a, power); keys b (write, 0.0 s), c (write, 0.0 s); cause: 2 writes "
                              "acknowledged during "
                              "outage(a, power) (+1.0 s to +2.0 s after inject outage(a, power))")


def test_a_lost_write_says_what_it_was_where_it_went_and_how_long_it_took() -> None:
    put = Operation("put_object", scheduled=101, start=101, end=103.4, outcome=OK, key="k-147", action=WRITE,
                    value=digest("body"), upstream="app-b-1 > app-a-1")
    result = lost_writes(History([put]), timeline_at(FAULT), 0, readback={"k-147": None})
    assert "; keys k-147 (put_object via app-b-1 > app-a-1, 2.4 s); cause: " in result.message, result.message


def test_a_lost_write_says_what_the_stores_answered_and_one_found_later_is_not_lost() -> None:
    put = Operation("put_object", scheduled=101, start=101, end=103.4, outcome=OK, key="k-147", action=WRITE,
                    value=digest("body"), upstream="app-b-1 > app-a-1")
    late = Operation("put_object", scheduled=102, start=102, end=103, outcome=OK, key="k-148", action=WRITE,
                     value=digest("other"))
    readback = Found({"k-147": None, "k-148": digest("other")},
                     {"k-147": "S3: NoSuchKey from s3-c-1, s3-a-1",
                      "k-148": "S3: NoSuchKey from s3-c-1, found 2.1 s later"})
    result = lost_writes(History([put, late]), timeline_at(FAULT), 0, readback=readback)
    assert result.value == 1, result.message
    assert "; keys k-147 (put_object via app-b-1 > app-a-1, 2.4 s; S3: NoSuchKey from s3-c-1, s3-a-1); cause: " \
        in result.message, result.message
    assert result.message.endswith("; 1 found only on a later read: k-148 (put_object, 1.0 s; S3: NoSuchKey from "
                                   "s3-c-1, found 2.1 s later)"), result.message
    passed = lost_writes(History([late]), timeline_at(FAULT), 0, readback=readback)
    assert passed.passed and passed.message == (
        "lost_writes = 0 <= 0 (of 1 acknowledged writes; 0 with unknown outcome, not counted); 1 found only on a "
        "later read: k-148 (put_object, 1.0 s; S3: NoSuchKey from s3-c-1, found 2.1 s later)")


def test_lost_writes_needs_a_readback_and_acknowledged_writes() -> None:
    assert not lost_writes(History([write(1)]), Timeline(), 0, readback=None).passed
    assert not lost_writes(History([write(1, FAILED)]), Timeline(), 0, readback={}).passed


def test_stale_reads() -> None:
    w = write(1, key="a", took=0.5)  # acknowledged at 1.5
    fresh = op(2, key="a", value=w.value)
    stale = op(3, key="a", value=None)  # 404 after the write was acknowledged
    concurrent = op(1.2, key="a", value=None)  # started before the acknowledgement: either answer is fine
    assert stale_reads(History([w, fresh, concurrent]), Timeline(), 0).passed
    result = stale_reads(History([w, fresh, stale]), Timeline(), 0)
    assert not result.passed and result.value == 1
    assert result.message == ("stale_reads = 1 > 0 (of 2 reads of acknowledged writes): read missed an "
                              "acknowledged write")
    anchored = stale_reads(History([w, fresh, stale]), timeline_at((2.0, "inject", "cut(a/app->db)", "")), 0)
    assert anchored.message.endswith("read missed an acknowledged write between +1.0 s and +1.0 s after "
                                     "inject cut(a/app->db)")
    assert not stale_reads(History([op(1)]), Timeline(), 0).passed  # nothing read: nothing proven


# --- parsing limits and evaluate ---------------------------------------------------------------------------


def test_parse_limits() -> None:
    parsed = parse({"failed_requests": {"read": 0}, "failover_time": "120s", "p99": "500ms",
                    "availability": "99.9%", "failed_ratio": 0.01, "lost_writes": 0, "stale_reads": None})
    assert parsed == {"failed_requests": {"read": 0.0}, "failover_time": 120.0, "p99": 0.5,
                      "availability": pytest.approx(0.999), "failed_ratio": 0.01, "lost_writes": 0.0}


@pytest.mark.parametrize(("slos", "error"), [
    ({"p99": "fast"}, "SLO p99: expected a duration like '10s'"),
    ({"availability": 2}, "SLO availability: expected a fraction 0..1 or a percentage"),
    ({"failed_requests": {"read": -1}}, r"SLO failed_requests\[read\]: the limit must be a number >= 0"),
    ({"p95": "1s"}, "unknown SLO 'p95': expected one of failed_requests, failed_ratio, p50"),
])
def test_parse_refuses_bad_limits(slos: dict[str, object], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse(slos)


def test_evaluate_per_kind_and_every_slo_is_registered() -> None:
    history = History([op(1, FAILED, kind="write", action=WRITE), op(2)])
    results = evaluate({"failed_requests": {"read": 0, "write": 0}}, history, Timeline())
    assert [(r.name, r.passed) for r in results] == [("failed_requests[read]", True),
                                                     ("failed_requests[write]", False)]
    assert set(checks.SLOS) == {"failed_requests", "failed_ratio", "p50", "p90", "p99", "p999", "max_latency",
                                "availability", "write_downtime", "failover_time", "recovery_time",
                                "lost_writes", "stale_reads", "capacity_restored"}


# --- edge cases: everything failed, clock exactly at window edges ----------------------------------------


def test_everything_failed() -> None:
    history = History([op(1, FAILED), op(2, UNKNOWN), write(3, FAILED)])
    assert availability(history, Timeline(), 0).value == 0
    assert not availability(history, Timeline(), 0.01).passed
    assert math.isinf(write_downtime(history, Timeline(), 1e9).value)
    assert not lost_writes(history, Timeline(), 0, readback={}).passed  # nothing acknowledged: nothing proven
    assert not latency(History([op(1, UNKNOWN)]), Timeline(), 10, q=99, name="p99").passed


def test_operations_exactly_on_window_edges_fall_into_the_later_window() -> None:
    windows = latency_windows(History([op(10.0), op(11.0), op(11.999), op(12.0)]), window_s=1.0)
    assert [w["count"] for w in windows] == [1, 2, 1]
    timeline = timeline_at((10.0, "inject", "outage(a, power)", ""))
    # a failure exactly at the fault's time counts after it; the window it opens is back to baseline at +1 s
    result = recovery_time(History([op(9.0), op(10.0, FAILED), op(11.0), op(12.0)]), timeline, 1)
    assert result.passed and result.value == pytest.approx(1.0)
