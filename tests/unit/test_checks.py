from __future__ import annotations

import pytest

from pytest_azchaos.checks import SLOResult, evaluate, failed_requests, relation
from pytest_azchaos.errors import ConfigError, SLOViolation
from pytest_azchaos.history import FAILED, OK, UNKNOWN, History, Operation
from pytest_azchaos.timeline import Timeline


def op(t: float, outcome: str = OK, kind: str = "read", error: str | None = None,
       detail: str | None = None) -> Operation:
    return Operation(kind, scheduled=t, start=t, end=t + 0.01, outcome=outcome, error=error, detail=detail)


def test_all_ok_passes() -> None:
    result = failed_requests(History([op(1), op(2), op(3)]), Timeline())
    assert result == SLOResult("failed_requests", 0, 0, True, "failed_requests = 0 <= 0 (of 3 requests)")
    result.raise_if_failed()


@pytest.mark.parametrize(("passed", "at_least", "sign"),
                         [(True, False, "<="), (False, False, ">"), (True, True, ">="), (False, True, "<")])
def test_the_sign_between_a_figure_and_its_limit_says_which_way_the_limit_points(
        passed: bool, at_least: bool, sign: str) -> None:
    assert relation(passed, at_least) == sign


def test_failures_fail_with_when_and_why_relative_to_the_fault() -> None:
    timeline = Timeline()
    t0 = timeline.record("inject", "outage(a, power)").mono
    history = History([op(t0 - 1), op(t0 + 0.5), op(t0 + 1, FAILED, error="HTTP 502"),
                       op(t0 + 2, FAILED, error="HTTP 502"), op(t0 + 3)])
    result = failed_requests(history, timeline)
    assert not result.passed and result.value == 2 and result.limit == 0
    assert result.message == (
        "failed_requests = 2 > 0 (of 5 requests): 2 read did not succeed between +1.0 s and +2.0 s "
        "after inject outage(a, power) (2x HTTP 502)"
    )


def test_failures_after_the_heal_are_anchored_to_the_heal() -> None:
    timeline = Timeline()
    timeline.record("inject", "outage(a, power)")
    t1 = timeline.record("heal", "outage(a, power)").mono
    result = failed_requests(History([op(t1 + 4, FAILED, error="HTTP 503")]), timeline)
    assert "between +4.0 s and +4.0 s after heal outage(a, power) (1x HTTP 503)" in result.message


def test_failure_before_any_fault_is_anchored_to_the_first_fault() -> None:
    timeline = Timeline()
    t0 = timeline.record("inject", "outage(a, power)").mono
    result = failed_requests(History([op(t0 - 1, FAILED, error="HTTP 503")]), timeline)
    assert "between -1.0 s and -1.0 s after inject outage(a, power)" in result.message


def test_failures_without_any_fault() -> None:
    result = failed_requests(History([op(1, FAILED, error="HTTP 500")]), Timeline())
    assert result.message == "failed_requests = 1 > 0 (of 1 requests): 1 read did not succeed (1x HTTP 500)"


def test_failures_quote_what_the_server_said_most_often() -> None:
    said = "database: OperationalError: server closed the connection unexpectedly"
    bad = [op(1, FAILED, error="HTTP 503", detail=said), op(2, FAILED, error="HTTP 503", detail=said),
           op(3, FAILED, error="HTTP 503", detail="s3: timeout")]
    result = failed_requests(History(bad), Timeline())
    assert result.message.endswith(f"(3x HTTP 503; most often: {said!r})")


def test_unknown_outcomes_do_not_count_as_success() -> None:
    result = failed_requests(History([op(1), op(2, UNKNOWN, error="ReadTimeout"), op(3, UNKNOWN)]), Timeline())
    assert not result.passed and result.value == 2
    assert "(1x ReadTimeout, 1x unknown)" in result.message


def test_no_traffic_proves_nothing() -> None:
    result = failed_requests(History(), Timeline())
    assert not result.passed and "nothing was proven" in result.message
    assert not failed_requests(History([op(1, kind="write")]), Timeline(), kinds=("read",)).passed


def test_limit_is_inclusive() -> None:
    history = History([op(1, FAILED), op(2, FAILED), op(3)])
    assert failed_requests(history, Timeline(), 2).passed
    assert failed_requests(history, Timeline(), 2).message.startswith("failed_requests = 2 <= 2 (of 3 requests)")
    assert not failed_requests(history, Timeline(), 1).passed


def test_kinds_filter() -> None:
    history = History([op(1, FAILED, kind="write"), op(2, kind="read")])
    assert failed_requests(history, Timeline(), kinds=("read",)).passed
    assert not failed_requests(history, Timeline(), kinds=("write",)).passed
    assert not failed_requests(history, Timeline()).passed


def test_raise_if_failed_is_an_assertion() -> None:
    result = failed_requests(History([op(1, FAILED)]), Timeline())
    with pytest.raises(SLOViolation, match=r"^failed_requests = 1 > 0") as info:
        result.raise_if_failed()
    assert isinstance(info.value, AssertionError)


def test_evaluate_runs_the_declared_slos() -> None:
    results = evaluate({"failed_requests": 1}, History([op(1), op(2, FAILED)]), Timeline())
    assert [(r.name, r.value, r.limit, r.passed) for r in results] == [("failed_requests", 1, 1, True)]
    assert evaluate({}, History([op(1)]), Timeline()) == []


def test_evaluate_refuses_unknown_slos() -> None:
    with pytest.raises(ConfigError, match="unknown SLO 'p9999': expected one of failed_requests"):
        evaluate({"p9999": 1}, History([op(1)]), Timeline())


@pytest.mark.parametrize("limit", [-1, -0.5, "zero", "0", True])
def test_evaluate_refuses_bad_limits(limit: object) -> None:
    with pytest.raises(ConfigError, match=f"SLO failed_requests: the limit must be a number >= 0, found {limit!r}"):
        evaluate({"failed_requests": limit}, History([op(1)]), Timeline())
