"""The data of a report (report.json, schema in report_schema.py), built from what a test recorded.

Pure functions of the history, the timeline and the SLO verdicts, so that a pytest run and a game
day build the same report. Example::

    entry = test_entry("gameday: az-power-loss", verdict="passed", history=history,
                       timeline=timeline, results=results)
    data = report([entry], kind="gameday", title="az-power-loss")
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from . import chart
from .checks import SLOResult, distinct_digits
from .history import OK, History, Operation
from .report_schema import SCHEMA_VERSION, VERDICTS
from .timeline import FAILOVER, HEAL, INJECT, Timeline

if TYPE_CHECKING:
    from .stack import Stack

TOP_ERRORS = 3  # the commonest errors kept per operation kind


def report(tests: Sequence[dict[str, Any]], *, kind: str = "run", title: str = "pytest run",
           environments: Sequence[dict[str, Any]] = (), events: Iterable[dict[str, Any]] = (),
           stopped: str | None = None, not_run: int = 0) -> dict[str, Any]:
    """The whole report: a summary of verdicts, every test's entry, and the flat lists older readers use.

    A test's entry is its last attempt; where a plugin (pytest-rerunfailures) ran it more than once,
    the earlier attempts are entries of their own in its ``reruns``, first attempt first. A test with
    pytest's ``xfail`` marker keeps the verdict of what happened, and its ``xfail`` says why pytest
    expected it to fail.

    ``environments`` are the facts of each stack the run used (``environment_facts``), in the order
    they started; a test's entry names its own by ``run_id``. ``environment``, the first of them, is
    what readers of a one-region report (every report before ``environments``) look at.

    ``stopped`` says why a run ended before its last test (pytest's reason: an engine gone silent,
    ``-x``, Ctrl-C), and ``not_run`` how many of its selected tests did not run then.
    """
    summary = {"tests": len(tests), **dict.fromkeys(VERDICTS, 0)}
    for test in tests:
        summary[test["verdict"]] += 1
    reruns = sum(len(test.get("reruns", ())) for test in tests)
    if reruns:  # earlier attempts of tests a plugin ran again: not counted as tests, nor their SLOs below
        summary["reruns"] = reruns
    xfailed = sum(1 for test in tests if "xfail" in test and test["verdict"] != "passed")
    if xfailed:  # of the tests above, those whose failure pytest expected (an xfail marker): not a red run
        summary["xfailed"] = xfailed
    if not_run:
        summary["not_run"] = not_run
    found = {
        "schema_version": SCHEMA_VERSION, "kind": kind, "title": title, "created": round(time.time(), 3),
        "summary": summary, "environment": environments[0] if environments else None,
        "environments": list(environments), "tests": list(tests),
        "slos": [{"test": t["test"], **slo} for t in tests for slo in t["slos"]],
        "events": list(events),
    }
    if stopped:
        found["stopped"] = stopped
    return found


def test_entry(test: str, *, verdict: str, history: History | None = None, timeline: Timeline | None = None,
               results: Sequence[SLOResult] = (), reason: str | None = None,
               reasons: Sequence[str] | None = None) -> dict[str, Any]:
    """One test's (or game day's) entry: verdict, SLOs, faults, events, timings, errors and chart data."""
    history, timeline = history or History(), timeline or Timeline()
    data = chart.series(history, timeline)
    zero = chart.time_zero(history.operations, timeline.events)
    t0 = zero[0] if zero else 0.0
    entry: dict[str, Any] = {"test": test, "verdict": verdict}
    if reason is not None:
        entry["reason"] = reason
    if reasons is not None:
        entry["reasons"] = list(reasons)
    entry.update(
        slos=[slo_entry(r) for r in results],
        faults=chart.fault_windows(timeline.events, t0),
        events=chart.relative_events(timeline.events, t0),
        timings=timings(history, timeline, t0),
        errors=commonest_errors(history.operations),
        chart=data,
    )
    return entry


def slo_entry(result: SLOResult) -> dict[str, Any]:
    """An SLO verdict for JSON: NaN and infinity become null (``shown`` says "n/a" or "never")."""
    return {"name": result.name, "value": _finite(result.value), "limit": _finite(result.limit),
            "passed": result.passed, "verdict": "pass" if result.passed else "fail", "message": result.message,
            "unit": result.unit, "shown": show(result, result.value, result.limit),
            "shown_limit": limit_text(result)}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def timings(history: History, timeline: Timeline, t0: float) -> dict[str, float | None]:
    """Key moments in seconds from t = 0 (None: it did not happen), and request counts."""
    ops = history.operations
    bad = [op for op in ops if op.outcome != OK]
    events = timeline.events
    heals = [e.mono for e in events if e.kind == HEAL]

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - t0, 3)

    return {
        "requests": len(ops), "failed": len(bad),
        "traffic_start": rel(ops[0].scheduled if ops else None), "traffic_end": rel(max((op.end for op in ops),
                                                                                        default=None)),
        "first_fault": rel(next((e.mono for e in events if e.kind == INJECT), None)),
        "last_heal": rel(max(heals, default=None)),
        "first_error": rel(bad[0].scheduled if bad else None), "last_error": rel(bad[-1].scheduled if bad else None),
        "first_failover": rel(next((e.mono for e in events if e.kind == FAILOVER), None)),
    }


def commonest_errors(ops: Sequence[Operation], *, top: int = TOP_ERRORS) -> list[dict[str, Any]]:
    """The ``top`` commonest errors of each operation kind, commonest first; with the LB's targets
    they went to, where it named them ("upstreams": {"app-a-1": 80, "app-b-1 > app-c-1": 12})."""
    by_kind: dict[str, Counter[str]] = {}
    upstreams: dict[tuple[str, str], Counter[str]] = {}
    for op in ops:
        if op.outcome != OK:
            by_kind.setdefault(op.kind, Counter())[error_text(op)] += 1
            if op.upstream:
                upstreams.setdefault((op.kind, error_text(op)), Counter())[op.upstream] += 1
    return [{"kind": kind, "error": error, "count": count}
            | ({"upstreams": dict(upstreams[(kind, error)].most_common())} if (kind, error) in upstreams else {})
            for kind, counter in by_kind.items() for error, count in counter.most_common(top)]


def error_text(op: Operation) -> str:
    """What went wrong, in a few words: the error class or HTTP status, and the outcome."""
    what = op.error or (f"HTTP {op.status}" if op.status is not None else "no answer")
    return what if op.outcome != "unknown" else f"{what} (outcome unknown)"


def limit_text(result: SLOResult) -> str:
    """The limit as the tables show it: "500ms"; ">=99.90%" for a value that must reach it (one
    word, as every cell of the terminal's table is, for tools that split its lines)."""
    return (">=" if result.at_least else "") + show(result, result.limit)


def show(result: SLOResult, value: float, against: float | None = None) -> str:
    """Format an SLO's value or limit for people: durations in ms or s, fractions as percentages;
    with ``against`` (the limit), precise enough that a value that is not the limit looks different."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "never"
    if result.unit == "s":
        scale, unit, digits = (1000, "ms", 0) if value < 1 else (1, "s", 1)
        return f"{value * scale:.{digits + distinct_digits(value * scale, _scaled(against, scale), digits)}f}{unit}"
    if result.name == "availability":
        return f"{value:.{2 + distinct_digits(value * 100, _scaled(against, 100), 2)}%}"
    digits = distinct_digits(value, against, 2)
    return f"{value:g}" if not digits else f"{value:.{2 + digits}f}"


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


def environment_facts(stack: Stack) -> dict[str, Any]:
    """What a report says about the region: AZs, services with their images and options (e.g. the DB
    configuration), members, and the roles' facts (DB leader and replication, drives, links).
    Endpoints are left out: they carry the run's credentials."""
    topology = stack.topology
    facts: dict[str, Any] = {
        "run_id": stack.run_id, "environment": str(topology.path), "azs": list(topology.azs),
        "services": {s.name: {"role": s.role, "image": s.image, "azs": list(s.azs),
                              "replicas_per_az": s.replicas_per_az, "options": _plain(_unsecret(s.options))}
                     for s in topology.services},
        "images": _images(stack),
    }
    try:
        status = stack.status()
    except Exception as exc:  # a report must never break a run; it says what it could not see
        facts["status_error"] = f"{type(exc).__name__}: {exc}"
        return facts
    facts["members"] = [{k: m[k] for k in ("container", "service", "role", "az", "state", "healthy")}
                        for m in status["members"]]
    facts["roles"] = _plain(status["roles"])
    return facts


def _images(stack: Stack) -> dict[str, str]:
    """The image each service/role runs: the running container's image reference where Docker says."""
    found = {f"{service}/{role}": name for (service, role), name in stack.image_names().items()}
    client: Any = getattr(stack.backend, "client", None)
    for member in stack.members_all if client is not None else []:
        try:
            found[f"{member.service}/{member.role}"] = client.containers.get(member.container).attrs["Config"]["Image"]
        except Exception:  # noqa: S112 - not created (yet) or gone: the recipe name stays
            continue
    return found


SECRET_WORDS = ("password", "secret", "token", "access_key", "credential")


def _unsecret(options: Any) -> dict[str, Any]:
    """Options with any credential a user put there hidden: a report is shared more widely than a stack."""
    return {k: "***" if v and any(w in str(k).lower() for w in SECRET_WORDS) else v for k, v in dict(options).items()}


def _plain(value: Any) -> Any:
    """A JSON-safe copy (sets, tuples, paths and the like as text)."""
    return json.loads(json.dumps(value, default=str))
