"""SLO checks: pure functions from the recorded history and the timeline to a verdict.

Each check returns an :class:`SLOResult` whose ``message`` reads like a good
assertion message, e.g. ``failed_requests = 37 > 0: 37 read failed between
+2.1 s and +11.8 s after inject outage(a, power)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, SLOViolation
from .timeline import Event, Timeline
from .traffic import OK, History, Operation


@dataclass(frozen=True)
class SLOResult:
    """The verdict of one SLO: the measured value against its limit."""

    name: str
    value: float
    limit: float
    passed: bool
    message: str

    def raise_if_failed(self) -> None:
        if not self.passed:
            raise SLOViolation(self.message)


def failed_requests(history: History, timeline: Timeline, limit: float = 0,
                    *, kinds: tuple[str, ...] | None = None) -> SLOResult:
    """Count operations that did not succeed (failed or unknown); pass if the count <= ``limit``."""
    ops = [op for op in history.operations if kinds is None or op.kind in kinds]
    bad = [op for op in ops if op.outcome != OK]
    name = "failed_requests"
    if not ops:
        return SLOResult(name, 0, limit, False, f"{name}: no requests were recorded, so nothing was proven")
    passed = len(bad) <= limit
    relation = "<=" if passed else ">"
    message = f"{name} = {len(bad)} {relation} {_fmt(limit)} (of {len(ops)} requests)"
    if bad:
        message += ": " + _describe(bad, timeline)
    return SLOResult(name, len(bad), limit, passed, message)


def _describe(bad: list[Operation], timeline: Timeline) -> str:
    kinds = ", ".join(f"{n} {kind}" for kind, n in Counter(op.kind for op in bad).most_common())
    errors = ", ".join(f"{n}x {err}" for err, n in Counter(op.error or op.outcome for op in bad).most_common(3))
    first, last = bad[0].scheduled, bad[-1].scheduled
    anchor = _anchor(timeline, first)
    if anchor is None:
        return f"{kinds} did not succeed ({errors})"
    return (
        f"{kinds} did not succeed between {first - anchor.mono:+.1f} s and {last - anchor.mono:+.1f} s "
        f"after {anchor.kind} {anchor.subject} ({errors})"
    )


def _anchor(timeline: Timeline, t: float) -> Event | None:
    """Return the last inject/heal event at or before ``t``, else the first one after it."""
    faults = [e for e in timeline.events if e.kind in ("inject", "heal")]
    before = [e for e in faults if e.mono <= t]
    return before[-1] if before else (faults[0] if faults else None)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


Check = Callable[..., SLOResult]
CHECKS: Mapping[str, Check] = {"failed_requests": failed_requests}


def evaluate(slos: Mapping[str, Any], history: History, timeline: Timeline) -> list[SLOResult]:
    """Run every declared SLO (name -> limit) and return the verdicts, in the order declared."""
    results = []
    for name, limit in slos.items():
        check = CHECKS.get(name)
        if check is None:
            raise ConfigError(f"unknown SLO {name!r}: expected one of {', '.join(CHECKS)}")
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit < 0:
            raise ConfigError(f"SLO {name}: the limit must be a number >= 0, found {limit!r}")
        results.append(check(history, timeline, limit))
    return results
