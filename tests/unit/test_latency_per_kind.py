"""Latency SLOs with one limit per operation kind (``p99={"read": "500ms", "write": "3s"}``), on hand-made
histories: each kind is measured on its own operations, against its own limit, and named ``p99[kind]``."""

from __future__ import annotations

import math

import pytest

from pytest_azchaos.checks import evaluate, failed_requests, latency, parse
from pytest_azchaos.errors import ConfigError
from pytest_azchaos.timeline import Timeline
from pytest_azchaos.traffic import OK, UNKNOWN, History, Operation


def op(t: float, kind: str, took: float, outcome: str = OK) -> Operation:
    return Operation(kind, scheduled=t, start=t, end=t + took, outcome=outcome)


def mixed() -> History:
    """Fast reads (10 ms) and slow writes (2 s): a 500 ms limit over all kinds hides nothing, or everything."""
    return History([op(i, "read", 0.01) for i in range(10)] + [op(i + 0.5, "write", 2.0) for i in range(10)])


def test_each_kind_against_its_own_limit() -> None:
    results = evaluate({"p99": {"read": "500ms", "write": "3s"}}, mixed(), Timeline())
    assert [(r.name, r.value, r.limit, r.passed, r.unit) for r in results] == [
        ("p99[read]", pytest.approx(0.01), 0.5, True, "s"), ("p99[write]", pytest.approx(2.0), 3.0, True, "s")]
    assert results[0].message == "p99[read] = 10 ms <= 500 ms (of 10 answered requests)"


def test_a_slow_kind_fails_alone_and_is_named() -> None:
    timeline = Timeline()
    timeline.record("inject", "outage(a, power)", at=3.0)
    results = evaluate({"p99": {"read": "500ms", "write": "1s"}}, mixed(), timeline)
    assert [(r.name, r.passed) for r in results] == [("p99[read]", True), ("p99[write]", False)]
    assert results[1].message.startswith("p99[write] = 2.0 s > 1.0 s (of 10 answered requests): 10 took longer, "
                                         "between -2.5 s and +6.5 s after inject outage(a, power)")


def test_the_percentile_is_taken_over_the_kind_only() -> None:
    # over all 20 operations the median is a fast read; over the writes alone it is 2 s
    assert latency(mixed(), Timeline(), 0.5, q=50, name="p50").passed
    result = latency(mixed(), Timeline(), 0.5, q=50, name="p50", kinds=("write",))
    assert (result.name, result.value, result.passed) == ("p50[write]", pytest.approx(2.0), False)


def test_every_latency_slo_takes_a_dict() -> None:
    slos = {name: {"read": "1s"} for name in ("p50", "p90", "p99", "p999", "max_latency")}
    results = evaluate(slos, mixed(), Timeline())
    assert [r.name for r in results] == ["p50[read]", "p90[read]", "p99[read]", "p999[read]", "max_latency[read]"]
    assert all(r.passed for r in results)


def test_a_value_close_to_its_limit_is_shown_precisely_enough_to_differ() -> None:
    history = History([op(1, "read", 0.5004), op(2, "write", 0.01)])
    result = evaluate({"max_latency": {"read": "500ms"}}, history, Timeline())[0]
    assert not result.passed
    assert result.message.startswith("max_latency[read] = 500.4 ms > 500 ms")


def test_a_kind_with_no_operations_proves_nothing_as_failed_requests_does() -> None:
    history = History([op(1, "read", 0.01), op(2, "write", 0.01, outcome=UNKNOWN)])
    for kind in ("put_object", "write"):  # none recorded; only unanswered ones
        result = evaluate({"p99": {kind: "1s"}}, history, Timeline())[0]
        assert (result.name, result.passed, math.isnan(result.value)) == (f"p99[{kind}]", False, True)
        assert result.message == f"p99[{kind}]: no answered requests were recorded, so nothing was proven"
    same = failed_requests(history, Timeline(), 0, kinds=("put_object",))
    assert (same.passed, math.isnan(same.value)) == (False, True)


def test_one_limit_still_covers_every_kind() -> None:
    result = evaluate({"p99": "500ms"}, mixed(), Timeline())[0]
    assert (result.name, result.passed) == ("p99", False)


def test_parse_returns_seconds_per_kind() -> None:
    assert parse({"p99": {"read": "500ms", "write": 3}, "max_latency": {"get_object": "2m"}}) == {
        "p99": {"read": 0.5, "write": 3.0}, "max_latency": {"get_object": 120.0}}


@pytest.mark.parametrize(("slos", "error"), [
    ({"p99": {}}, r"^SLO p99: expected at least one operation kind and its limit, e\.g\. \{'read': \.\.\.\}, "
                  r"found an empty dict$"),
    ({"p99": {1: "1s"}}, r"^SLO p99: an operation kind must be a name like 'read' or 'put_object', found 1$"),
    ({"p90": {"": "1s"}}, r"^SLO p90: an operation kind must be a name .*, found ''$"),
    ({"p99": {"read": "fast"}}, r"^SLO p99\[read\]: expected a duration like '10s', '500ms' or '2m', found 'fast'$"),
    ({"p50": {"read": True}}, r"^SLO p50\[read\]: expected a duration like '10s' or '500ms', found True$"),
    ({"p999": {"read": "-1s"}}, r"^SLO p999\[read\]: expected a duration"),
    ({"max_latency": {"write": {"p": 1}}}, r"^SLO max_latency\[write\]: expected a duration"),
    ({"failed_requests": {}}, r"^SLO failed_requests: expected at least one operation kind"),
    ({"write_downtime": {"write": "1s"}}, r"^SLO write_downtime: expected one limit for every operation, found a "
                                          r"dict \{'write': '1s'\} \(a dict of limits per kind is for "
                                          r"failed_requests, p50, p90, p99, p999, max_latency\)$"),
])
def test_bad_per_kind_limits_are_one_clear_error(slos: dict[str, object], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse(slos)
