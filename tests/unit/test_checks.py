from __future__ import annotations

import pytest

from pytest_azchaos.checks import evaluate, failed_requests
from pytest_azchaos.errors import ConfigError, SLOViolation
from pytest_azchaos.timeline import Event, Timeline
from pytest_azchaos.traffic import FAILED, OK, UNKNOWN, History, Operation


def op(t: float, outcome: str = OK, kind: str = "read", error: str | None = None) -> Operation:
    return Operation(kind, scheduled=t, start=t, end=t + 0.01, outcome=outcome, error=error)


def timeline_with_inject_at(t: float) -> Timeline:
    timeline = Timeline()
    timeline._events.append(Event(mono=t, wall=0.0, kind="inject", subject="outage(a, power)"))
    return timeline


def test_all_ok_passes() -> None:
    result = failed_requests(History([op(1), op(2), op(3)]), Timeline())
    assert result.passed and result.value == 0
    assert result.message == "failed_requests = 0 <= 0 (of 3 requests)"


def test_failures_fail_with_when_and_why() -> None:
    history = History([op(100), op(101, FAILED, error="HTTP 502"), op(102, FAILED, error="HTTP 502"), op(103)])
    result = failed_requests(history, timeline_with_inject_at(100.0))
    assert not result.passed and result.value == 2
    assert result.message == (
        "failed_requests = 2 > 0 (of 4 requests): 2 read did not succeed between +1.0 s and +2.0 s "
        "after inject outage(a, power) (2x HTTP 502)"
    )
    with pytest.raises(SLOViolation) as info:
        result.raise_if_failed()
    assert isinstance(info.value, AssertionError)


def test_unknown_outcomes_do_not_count_as_success() -> None:
    result = failed_requests(History([op(1), op(2, UNKNOWN, error="ReadTimeout")]), Timeline())
    assert not result.passed and "1x ReadTimeout" in result.message


def test_no_traffic_proves_nothing() -> None:
    result = failed_requests(History(), Timeline())
    assert not result.passed and "nothing was proven" in result.message


def test_limit_is_inclusive() -> None:
    assert failed_requests(History([op(1, FAILED), op(2, FAILED), op(3)]), Timeline(), 2).passed
    assert not failed_requests(History([op(1, FAILED), op(2, FAILED), op(3)]), Timeline(), 1).passed


def test_kinds_filter() -> None:
    history = History([op(1, FAILED, kind="write"), op(2, kind="read")])
    assert failed_requests(history, Timeline(), kinds=("read",)).passed
    assert not failed_requests(history, Timeline(), kinds=("write",)).passed


def test_failure_before_any_fault_is_anchored_to_the_first_fault() -> None:
    result = failed_requests(History([op(99, FAILED, error="HTTP 503")]), timeline_with_inject_at(100.0))
    assert "between -1.0 s and -1.0 s after inject outage(a, power)" in result.message


def test_evaluate_refuses_unknown_slos_and_bad_limits() -> None:
    history = History([op(1)])
    assert [r.name for r in evaluate({"failed_requests": 0}, history, Timeline())] == ["failed_requests"]
    with pytest.raises(ConfigError, match="unknown SLO 'p999'"):
        evaluate({"p999": 1}, history, Timeline())
    for bad in (-1, "zero", True):
        with pytest.raises(ConfigError, match="must be a number >= 0"):
            evaluate({"failed_requests": bad}, history, Timeline())
