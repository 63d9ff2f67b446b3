"""SLO checks: pure functions from the recorded history and the timeline to a verdict.

Each check returns an :class:`SLOResult` whose ``message`` reads like a good
assertion message, e.g. ``failed_requests = 37 > 0: 37 read did not succeed
between +2.1 s and +11.8 s after inject outage(a, power)``.

| SLO | value | passes when |
| --- | --- | --- |
| ``failed_requests`` | operations that failed or have an unknown outcome (a dict limits per kind) | value <= limit |
| ``failed_ratio`` | the same, as a fraction of all operations | value <= limit |
| ``p50`` ``p90`` ``p99`` ``p999`` ``max_latency`` | exact latency from scheduled time, per kind too | value <= limit |
| ``availability`` | fraction of operations that succeeded | value >= limit |
| ``write_downtime`` | longest time in which every write failed | value <= limit |
| ``failover_time`` | fault -> first write acknowledged after the DB leader changed | value <= limit |
| ``recovery_time`` | fault -> error rate back to its baseline for good | value <= limit |
| ``lost_writes`` | acknowledged writes missing or changed when read back after healing | value <= limit |
| ``stale_reads`` | reads that missed a write acknowledged before they started | value <= limit |
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, SLOViolation
from .explain import causes, lost_cause
from .history import OK, READ, UNKNOWN, WRITE, History, Operation
from .timeline import CAPACITY, FAILOVER, HEAL, INJECT, Event, Timeline, parse_capacity
from .units import parse_duration

#: What was found when acknowledged writes were read back: key -> SHA-256 of the stored value (None: missing).
Readback = Mapping[str, "str | None"]


@dataclass(frozen=True)
class SLOResult:
    """The verdict of one SLO: the measured value against its limit (``unit`` "s" for durations).
    The value must stay within the limit, or reach it when ``at_least`` (availability)."""

    name: str
    value: float
    limit: float
    passed: bool
    message: str
    unit: str = ""
    at_least: bool = False

    def raise_if_failed(self) -> None:
        if not self.passed:
            raise SLOViolation(self.message)


@dataclass(frozen=True)
class Evidence:
    """What checks look at: the operations, the fault timeline, and what was read back after healing."""

    history: History
    timeline: Timeline
    readback: Readback | None = None


# --- failed requests and availability ------------------------------------------------------------


def failed_requests(history: History, timeline: Timeline, limit: float = 0,
                    *, kinds: tuple[str, ...] | None = None) -> SLOResult:
    """Count operations that did not succeed (failed or unknown); pass if the count <= ``limit``."""
    name = "failed_requests" if kinds is None else f"failed_requests[{','.join(kinds)}]"
    ops = [op for op in history.operations if kinds is None or op.kind in kinds]
    bad = [op for op in ops if op.outcome != OK]
    if not ops:
        return _unproven(name, limit, "no requests were recorded")
    passed = len(bad) <= limit
    message = f"{name} = {len(bad)} {relation(passed)} {_fmt(limit)} (of {len(ops)} requests)"
    if bad:
        message += ": " + _describe(bad, timeline)
    return SLOResult(name, len(bad), limit, passed, message)


def failed_ratio(history: History, timeline: Timeline, limit: float = 0) -> SLOResult:
    """The fraction of operations that did not succeed; pass if it is <= ``limit``."""
    ops = history.operations
    bad = [op for op in ops if op.outcome != OK]
    if not ops:
        return _unproven("failed_ratio", limit, "no requests were recorded")
    ratio = len(bad) / len(ops)
    passed = ratio <= limit
    message = f"failed_ratio = {ratio:.4f} {relation(passed)} {limit:g} ({len(bad)} of {len(ops)} requests)"
    if bad:
        message += ": " + _describe(bad, timeline)
    return SLOResult("failed_ratio", ratio, limit, passed, message)


def availability(history: History, timeline: Timeline, limit: float = 1.0) -> SLOResult:
    """The fraction of operations that succeeded over the test; pass if it is >= ``limit``."""
    ops = history.operations
    if not ops:
        return _unproven("availability", limit, "no requests were recorded")
    bad = [op for op in ops if op.outcome != OK]
    value = 1 - len(bad) / len(ops)
    passed = value >= limit
    message = f"availability = {value:.2%} {relation(passed, at_least=True)} {limit:.2%} (of {len(ops)} requests)"
    if bad:
        message += ": " + _describe(bad, timeline)
    return SLOResult("availability", value, limit, passed, message, at_least=True)


# --- latency ----------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Return the exact ``q``-th percentile (0-100) of ``values`` by nearest rank; NaN if empty.

    >>> percentile([1, 2, 3, 4], 50)
    2
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(round(q / 100 * len(ordered), 9)))  # round: 99.9 % of 1000 is 999, not 999.0000001
    return ordered[rank - 1]


def latency(history: History, timeline: Timeline, limit: float, *, q: float, name: str,
            kinds: tuple[str, ...] | None = None) -> SLOResult:
    """The ``q``-th percentile of latency (scheduled time to end, over successful and failed operations),
    over every operation or only those of ``kinds`` (then named e.g. ``p99[read]``)."""
    name = name if kinds is None else f"{name}[{','.join(kinds)}]"
    ops = [op for op in history.operations if op.outcome != UNKNOWN and (kinds is None or op.kind in kinds)]
    if not ops:
        return _unproven(name, limit, "no answered requests were recorded", unit="s")
    value = percentile([op.latency for op in ops], q)
    passed = value <= limit
    message = (f"{name} = {seconds_text(value, limit)} {relation(passed)} {seconds_text(limit)} "
               f"(of {len(ops)} answered requests)")
    if not passed:
        slow = [op for op in ops if op.latency > limit]
        when = _when(slow, timeline)
        why = causes(slow, timeline, what="slow")
        message += f": {len(slow)} took longer" + (f", {when}" if when else "") + (f"; by cause: {why}" if why else "")
    return SLOResult(name, value, limit, passed, message, "s")


def latency_windows(history: History, *, window_s: float = 1.0,
                    qs: Sequence[float] = (50, 90, 99, 99.9, 100)) -> list[dict[str, float]]:
    """Return per-window latency percentiles: ``[{"start": mono, "count": n, "p50": s, ...}, ...]``."""
    ops = [op for op in history.operations if op.outcome != UNKNOWN]
    windows: dict[int, list[float]] = {}
    if not ops:
        return []
    t0 = ops[0].scheduled
    for op in ops:
        windows.setdefault(int((op.scheduled - t0) // window_s), []).append(op.latency)
    return [{"start": t0 + i * window_s, "count": len(lat), **{_qname(q): percentile(lat, q) for q in qs}}
            for i, lat in sorted(windows.items())]


def _qname(q: float) -> str:
    return "max" if q == 100 else f"p{q:g}".replace(".", "")


# --- writes: downtime, failover, recovery ----------------------------------------------------------------


def write_downtime(history: History, timeline: Timeline, limit: float) -> SLOResult:
    """The longest interval in which writes of one kind failed: from the first failed write to the next
    one acknowledged. Kinds count apart: S3 puts that work do not hide DB writes that fail."""
    writes = history.writes()
    if not writes:
        return _unproven("write_downtime", limit, "no writes were recorded", unit="s")
    stretches = [s for kind in dict.fromkeys(op.kind for op in writes)
                 if (s := _longest_failing([op for op in writes if op.kind == kind])) is not None]
    if not stretches:
        return SLOResult("write_downtime", 0, limit, True, f"write_downtime = 0 s: all {len(writes)} writes "
                         "were acknowledged", "s")
    value, bad, good = max(stretches, key=lambda stretch: stretch[0])
    passed = value <= limit
    until = "the end of the test" if good is None else _at(good.scheduled, timeline)
    message = (f"write_downtime = {seconds_text(value, limit)} {relation(passed)} {seconds_text(limit)}: "
               f"{bad.kind} failed from {_at(bad.scheduled, timeline)} until {until}")
    return SLOResult("write_downtime", value, limit, passed, message, "s")


def _longest_failing(writes: list[Operation]) -> tuple[float, Operation, Operation | None] | None:
    """Return (seconds, first failed, next acknowledged or None) of the longest failing stretch."""
    longest: tuple[float, Operation, Operation | None] | None = None
    first_bad: Operation | None = None
    for op in writes:
        if op.outcome != OK and first_bad is None:
            first_bad = op
        elif op.outcome == OK and first_bad is not None:
            stretch = (op.scheduled - first_bad.scheduled, first_bad, op)
            longest = stretch if longest is None or stretch[0] > longest[0] else longest
            first_bad = None
    if first_bad is not None:  # writes never came back
        return (math.inf, first_bad, None)
    return longest


def failover_time(history: History, timeline: Timeline, limit: float) -> SLOResult:
    """Fault injection -> the first write acknowledged after the DB leader changed.

    Without a leader change, it is the time until writes were acknowledged again
    after the fault (0 if they never failed).
    """
    name = "failover_time"
    failover = next((e for e in timeline.events if e.kind == FAILOVER), None)
    fault = _fault_before(timeline, failover.mono if failover else math.inf)
    writes = _failing_kinds(history.writes(), fault.mono if fault else -math.inf,
                            failover.mono if failover else math.inf)
    if fault is None:
        return _unproven(name, limit, "no fault was injected", unit="s")
    if not writes:
        return _unproven(name, limit, "no writes were recorded", unit="s")
    if failover is None:
        return _write_recovery(writes, fault, limit)
    done = next((op for op in writes if op.outcome == OK and op.end >= failover.mono), None)
    value = math.inf if done is None else done.end - fault.mono
    passed = value <= limit
    message = (f"{name} = {seconds_text(value, limit)} {relation(passed)} {seconds_text(limit)}: "
               f"{fault.kind} {fault.subject}, then {failover.detail or 'a new DB leader'} "
               f"at {failover.mono - fault.mono:+.1f} s, ")
    message += ("and no write was acknowledged after it" if done is None
                else f"first write acknowledged at {done.end - fault.mono:+.1f} s")
    return SLOResult(name, value, limit, passed, message, "s")


def _failing_kinds(writes: list[Operation], start: float, end: float) -> list[Operation]:
    """Keep the writes of the kinds that failed between ``start`` and ``end`` (e.g. the DB writes,
    not the S3 puts that kept working while the DB failed over); all writes if none failed."""
    kinds = {op.kind for op in writes if op.outcome != OK and start <= op.scheduled <= end}
    return [op for op in writes if op.kind in kinds] if kinds else writes


def _write_recovery(writes: list[Operation], fault: Event, limit: float) -> SLOResult:
    after = [op for op in writes if op.scheduled >= fault.mono]
    bad = [op for op in after if op.outcome != OK]
    if not bad:
        return SLOResult("failover_time", 0, limit, True, f"failover_time = 0 s: no DB leader change, and no "
                         f"write failed after {fault.kind} {fault.subject}", "s")
    done = next((op for op in after if op.outcome == OK and op.scheduled > bad[-1].scheduled), None)
    value = math.inf if done is None else done.end - fault.mono
    passed = value <= limit
    tail = ("and writes never came back" if done is None
            else f"writes acknowledged again at {done.end - fault.mono:+.1f} s")
    return SLOResult("failover_time", value, limit, passed,
                     f"failover_time = {seconds_text(value, limit)} {relation(passed)} {seconds_text(limit)}: "
                     f"no DB leader change after {fault.kind} {fault.subject}; {tail}", "s")


def recovery_time(history: History, timeline: Timeline, limit: float, *, window_s: float = 1.0) -> SLOResult:
    """Fault injection -> the error rate is back to its pre-fault baseline and stays there."""
    name = "recovery_time"
    fault = next((e for e in timeline.events if e.kind == INJECT), None)
    ops = history.operations
    if fault is None or not ops:
        return _unproven(name, limit, "no fault was injected" if fault is None else "no requests were recorded",
                         unit="s")
    before = [op for op in ops if op.scheduled < fault.mono]
    baseline = _error_rate(before) if before else 0.0
    windows = _error_windows([op for op in ops if op.scheduled >= fault.mono], fault.mono, window_s)
    above = [start for start, rate in windows if rate > baseline]
    if not above:
        value, detail = 0.0, "the error rate never rose above it"
    elif above[-1] == windows[-1][0]:
        value, detail = math.inf, "the error rate was still above it at the end"
    else:
        value = above[-1] + window_s - fault.mono
        detail = f"back to it from {value:+.1f} s on"
    passed = value <= limit
    return SLOResult(name, value, limit, passed,
                     f"{name} = {seconds_text(value, limit)} {relation(passed)} {seconds_text(limit)}: "
                     f"baseline error rate {baseline:.1%}; after {fault.kind} {fault.subject} {detail}", "s")


def _error_rate(ops: Sequence[Operation]) -> float:
    return sum(op.outcome != OK for op in ops) / len(ops) if ops else 0.0


def _error_windows(ops: list[Operation], t0: float, window_s: float) -> list[tuple[float, float]]:
    windows: dict[int, list[Operation]] = {}
    for op in ops:
        windows.setdefault(int((op.scheduled - t0) // window_s), []).append(op)
    return [(t0 + i * window_s, _error_rate(group)) for i, group in sorted(windows.items())]


# --- data: lost writes and stale reads -------------------------------------------------------------------


def lost_writes(history: History, timeline: Timeline, limit: float, *, readback: Readback | None) -> SLOResult:
    """Acknowledged writes that are missing or changed when read back after healing."""
    name = "lost_writes"
    acked = [op for op in history.writes() if op.outcome == OK and op.key is not None]
    unknown = sum(op.outcome == UNKNOWN for op in history.writes())
    if readback is None:
        return _unproven(name, limit, "nothing was read back (the stack has no store to read, or no read-back hook)")
    if not acked:
        return _unproven(name, limit, "no write was acknowledged")
    lost = [op for op in acked if op.key is not None and readback.get(op.key) != op.value]
    passed = len(lost) <= limit
    # The default read-back's notes (readback.Found) on keys a store answered missing at first;
    # a read-back hook's plain dict has none.
    notes: Mapping[str, str] = getattr(readback, "notes", {})
    message = (f"{name} = {len(lost)} {relation(passed)} {_fmt(limit)} (of {len(acked)} acknowledged writes; "
               f"{unknown} with unknown outcome, not counted)")
    if lost:
        missing = sum(readback.get(op.key or "") is None for op in lost)
        when = _when(lost, timeline)
        message += (f": {missing} missing, {len(lost) - missing} changed"
                    + (f", acknowledged {when}" if when else "")
                    + f"; keys {', '.join(_written(op, notes) for op in lost[:5])}" + (" …" if len(lost) > 5 else "")
                    + f"; cause: {lost_cause(lost, timeline)}")
    late = [op for op in acked if op not in lost and op.key in notes]
    if late:
        message += (f"; {len(late)} found only on a later read: "
                    + ", ".join(_written(op, notes) for op in late[:5]) + (" …" if len(late) > 5 else ""))
    return SLOResult(name, len(lost), limit, passed, message)


def _written(op: Operation, notes: Mapping[str, str]) -> str:
    """A write's key, with what tells where to look: its kind (a row or an object), the replicas the LB
    sent it to, how long its acknowledgement took, and what the stores said when it was read back."""
    via = f" via {op.upstream}" if op.upstream else ""
    said = f"; {notes[op.key]}" if op.key is not None and op.key in notes else ""
    return f"{op.key} ({op.kind}{via}, {op.end - op.start:.1f} s{said})"


def stale_reads(history: History, timeline: Timeline, limit: float) -> SLOResult:
    """Reads that returned older data than a write acknowledged before the read started."""
    name = "stale_reads"
    ops = history.operations
    writes: dict[str, list[Operation]] = {}
    for op in ops:
        if op.action == WRITE and op.key is not None:
            writes.setdefault(op.key, []).append(op)
    reads = [op for op in ops if op.action == READ and op.outcome == OK and op.key in writes]
    if not reads:
        return _unproven(name, limit, "no read of an acknowledged write was recorded")
    stale = [op for op in reads if op.value not in _allowed(writes[op.key or ""], op)]
    passed = len(stale) <= limit
    message = f"{name} = {len(stale)} {relation(passed)} {_fmt(limit)} (of {len(reads)} reads of acknowledged writes)"
    if stale:
        when = _when(stale, timeline)
        message += f": {', '.join(sorted({op.kind for op in stale}))} missed an acknowledged write" + (
            f" {when}" if when else "")
    return SLOResult(name, len(stale), limit, passed, message)


def _allowed(writes: list[Operation], read: Operation) -> set[str | None]:
    """Values a linearizable read may return: the latest write acknowledged before it, or a concurrent one."""
    done = [w for w in writes if w.end <= read.start]
    allowed = {max(done, key=lambda w: w.end).value} if done else {None}
    return allowed | {w.value for w in writes if w.end > read.start and w.start < read.end}


def capacity_restored(history: History, timeline: Timeline, limit: float) -> SLOResult:
    """Fault -> the app's healthy replicas are back to their declared number while the fault still
    acts (replacements started elsewhere, as Auto Scaling does). Capacity that comes back only with
    the heal (the lost AZ's own replicas) was never restored. The worst app service counts."""
    name = "capacity_restored"
    first = next((e for e in timeline.events if e.kind == INJECT), None)
    series: dict[str, list[tuple[float, int, int]]] = {}
    for e in timeline.events:
        found = parse_capacity(e.detail) if e.kind == CAPACITY else None
        if found:
            series.setdefault(e.subject, []).append((e.mono, *found))
    if first is None:
        return _unproven(name, limit, "no fault was injected", unit="s")
    if not series:
        return _unproven(name, limit, "the app's capacity was not watched (no app service?)", unit="s")
    results = [_restored(service, points, first, timeline, limit) for service, points in series.items()]
    # The worst service: a broken one (a proven value before an unproven NaN, which max() cannot
    # order), then the slowest.
    return max(results, key=lambda r: (not r.passed, not math.isnan(r.value), 0 if math.isnan(r.value) else r.value))


def _restored(service: str, points: list[tuple[float, int, int]], first: Event, timeline: Timeline,
              limit: float) -> SLOResult:
    name = "capacity_restored"
    lost = next(((t, n, m) for t, n, m in points if t >= first.mono and n < m), None)
    if lost is None:
        # The watch records changes only: while the fault still acts, "no loss seen" may just mean
        # "not seen yet" (a loop that asks mid-fault would take it for restored capacity).
        if not any(e.kind == HEAL and e.subject == first.subject and e.mono > first.mono for e in timeline.events):
            return _unproven(name, limit, f"{first.subject} still acts and no {service} replica has been "
                             "seen lost yet", unit="s")
        return SLOResult(name, 0.0, limit, True, f"{name} = 0 s: {service} kept all its replicas healthy "
                         f"through {first.kind} {first.subject}", "s")
    fault = _fault_before(timeline, lost[0]) or first
    heal = next((e.mono for e in timeline.events if e.kind == HEAL and e.subject == fault.subject
                 and e.mono > fault.mono), math.inf)
    back = next((t for t, n, m in points if lost[0] < t < heal and n >= m), None)
    lowest = min(n for t, n, _ in points if lost[0] <= t < (heal if back is None else back))
    value = math.inf if back is None else back - fault.mono
    passed = value <= limit
    message = (f"{name} = {seconds_text(value, limit)} {relation(passed)} {seconds_text(limit)}: "
               f"after {fault.subject}, {lowest} of {lost[2]} {service} replicas healthy "
               f"from {lost[0] - fault.mono:+.1f} s")
    if back is not None:
        message += f", all {lost[2]} again at {back - fault.mono:+.1f} s, before the heal"
    elif heal < math.inf:
        message += (f"; no replacement before the heal at {heal - fault.mono:+.1f} s (does the app service "
                    "set replace_after?)")
    else:
        message += "; no replacement came up (does the app service set replace_after?)"
    return SLOResult(name, value, limit, passed, message, "s")


# --- messages ------------------------------------------------------------------------------------


def _unproven(name: str, limit: float, why: str, *, unit: str = "") -> SLOResult:
    return SLOResult(name, math.nan, limit, False, f"{name}: {why}, so nothing was proven", unit)


def _describe(bad: list[Operation], timeline: Timeline) -> str:
    kinds = ", ".join(f"{n} {kind}" for kind, n in Counter(op.kind for op in bad).most_common())
    errors = ", ".join(f"{n}x {err}" for err, n in Counter(op.error or op.outcome for op in bad).most_common(3))
    details = Counter(op.detail for op in bad if op.detail).most_common(1)
    if details:
        errors += f"; most often: {details[0][0]!r}"
    when = _when(bad, timeline)
    text = f"{kinds} did not succeed {when} ({errors})" if when else f"{kinds} did not succeed ({errors})"
    why = causes(bad, timeline)
    return f"{text}; by cause: {why}" if why else text


def _when(ops: list[Operation], timeline: Timeline) -> str:
    first, last = ops[0].scheduled, ops[-1].scheduled
    anchor = _anchor(timeline, first)
    if anchor is None:
        return ""
    return (f"between {first - anchor.mono:+.1f} s and {last - anchor.mono:+.1f} s "
            f"after {anchor.kind} {anchor.subject}")


def _at(t: float, timeline: Timeline) -> str:
    anchor = _anchor(timeline, t)
    return f"{t - anchor.mono:+.1f} s after {anchor.kind} {anchor.subject}" if anchor else "the start"


def _anchor(timeline: Timeline, t: float) -> Event | None:
    """Return the last inject/heal event at or before ``t``, else the first one after it."""
    faults = [e for e in timeline.events if e.kind in (INJECT, HEAL)]
    before = [e for e in faults if e.mono <= t]
    return before[-1] if before else (faults[0] if faults else None)


def _fault_before(timeline: Timeline, t: float) -> Event | None:
    injects = [e for e in timeline.events if e.kind == INJECT]
    before = [e for e in injects if e.mono <= t]
    return before[-1] if before else (injects[0] if injects else None)


def relation(passed: bool, at_least: bool = False) -> str:
    """The sign between a figure and its limit: "<=" or ">" for a limit that must not be passed,
    ">=" or "<" for one that must be reached (``at_least``, as availability's)."""
    if at_least:
        return ">=" if passed else "<"
    return "<=" if passed else ">"


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def seconds_text(value: float, against: float | None = None) -> str:
    """Seconds for people; with ``against`` (a limit), precise enough to differ from it visibly."""
    if math.isinf(value):
        return "never"
    scale, unit, digits = (1000, "ms", 0) if value < 1 else (1, "s", 1)
    digits += distinct_digits(value * scale, None if against is None else against * scale, digits)
    return f"{value * scale:.{digits}f} {unit}"


def distinct_digits(value: float, against: float | None, digits: int, *, most: int = 4) -> int:
    """How many more decimals than ``digits`` make ``value`` read differently from ``against``."""
    extra = 0
    if against is not None and math.isfinite(against):
        while extra < most and value != against and round(value, digits + extra) == round(against, digits + extra):
            extra += 1
    return extra


# --- the registry: what a marker, an ini line or the environment file can name ----------------------------


@dataclass(frozen=True)
class SLODef:
    """A named SLO: how to parse its limit, which check measures it, and (``by_kind``) which one
    measures the operations of one kind, for a dict of limits per kind."""

    name: str
    check: Callable[[Evidence, float], SLOResult]
    limit: Callable[[str, Any], float]
    help: str
    by_kind: Callable[[Evidence, float, str], SLOResult] | None = None


def _count(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"SLO {name}: the limit must be a number >= 0, found {value!r}")
    return float(value)


def _duration(name: str, value: Any) -> float:
    return parse_duration(value, what=f"SLO {name}")


def _ratio(name: str, value: Any) -> float:
    text = str(value).strip()
    try:
        ratio = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        ratio = -1
    if isinstance(value, bool) or not 0 <= ratio <= 1:
        raise ConfigError(f"SLO {name}: expected a fraction 0..1 or a percentage like '99.9%', found {value!r}")
    return ratio


def _latency_def(name: str, q: float) -> SLODef:
    return SLODef(name, lambda e, lim: latency(e.history, e.timeline, lim, q=q, name=name), _duration,
                  f"{'maximum' if q == 100 else f'{q:g}th percentile'} latency, e.g. '500ms'; "
                  "a dict limits per kind, e.g. {'read': '500ms', 'write': '3s'}",
                  lambda e, lim, kind: latency(e.history, e.timeline, lim, q=q, name=name, kinds=(kind,)))


SLOS: Mapping[str, SLODef] = {d.name: d for d in (
    SLODef("failed_requests", lambda e, lim: failed_requests(e.history, e.timeline, lim), _count,
           "operations that failed or timed out; a dict limits per kind, e.g. {'read': 0}",
           lambda e, lim, kind: failed_requests(e.history, e.timeline, lim, kinds=(kind,))),
    SLODef("failed_ratio", lambda e, lim: failed_ratio(e.history, e.timeline, lim), _ratio,
           "fraction of operations that did not succeed, e.g. 0.01"),
    _latency_def("p50", 50), _latency_def("p90", 90), _latency_def("p99", 99), _latency_def("p999", 99.9),
    _latency_def("max_latency", 100),
    SLODef("availability", lambda e, lim: availability(e.history, e.timeline, lim), _ratio,
           "minimum fraction of successful operations, e.g. '99.9%'"),
    SLODef("write_downtime", lambda e, lim: write_downtime(e.history, e.timeline, lim), _duration,
           "longest time in which writes failed, e.g. '30s'"),
    SLODef("failover_time", lambda e, lim: failover_time(e.history, e.timeline, lim), _duration,
           "fault to first write acknowledged by the new DB leader, e.g. '120s'"),
    SLODef("recovery_time", lambda e, lim: recovery_time(e.history, e.timeline, lim), _duration,
           "fault to error rate back at its baseline, e.g. '60s'"),
    SLODef("lost_writes", lambda e, lim: lost_writes(e.history, e.timeline, lim, readback=e.readback), _count,
           "acknowledged writes missing after healing (read back from PostgreSQL and S3)"),
    SLODef("stale_reads", lambda e, lim: stale_reads(e.history, e.timeline, lim), _count,
           "reads that missed a write acknowledged before they started"),
    SLODef("capacity_restored", lambda e, lim: capacity_restored(e.history, e.timeline, lim), _duration,
           "fault to the app's healthy replicas back at their declared number, while the fault acts "
           "(auto scaling's replacements), e.g. '60s'"),
)}


def parse(slos: Mapping[str, Any]) -> dict[str, Any]:
    """Validate SLO limits (name -> limit) and return them parsed: seconds, fractions, counts.

    ``failed_requests`` and the latency SLOs also take a dict of limits per operation kind,
    e.g. ``{"read": "500ms", "write": "3s"}``. A limit of None switches an SLO off. Raise
    ConfigError naming the SLO and the accepted format.
    """
    parsed: dict[str, Any] = {}
    for name, limit in slos.items():
        slo = SLOS.get(name)
        if slo is None:
            raise ConfigError(f"unknown SLO {name!r}: expected one of {', '.join(SLOS)}")
        if limit is None:
            continue
        parsed[name] = _per_kind(slo, limit) if isinstance(limit, Mapping) else slo.limit(name, limit)
    return parsed


def _per_kind(slo: SLODef, limits: Mapping[Any, Any]) -> dict[str, float]:
    """Parse a dict of limits per operation kind, e.g. ``{"read": "500ms"}``."""
    per_kind = ", ".join(d.name for d in SLOS.values() if d.by_kind is not None)
    if slo.by_kind is None:
        raise ConfigError(f"SLO {slo.name}: expected one limit for every operation, found a dict {dict(limits)!r} "
                          f"(a dict of limits per kind is for {per_kind})")
    if not limits:
        raise ConfigError(f"SLO {slo.name}: expected at least one operation kind and its limit, "
                          f"e.g. {{'read': ...}}, found an empty dict")
    for kind in limits:
        if not isinstance(kind, str) or not kind.strip():
            raise ConfigError(f"SLO {slo.name}: an operation kind must be a name like 'read' or 'put_object', "
                              f"found {kind!r}")
    return {kind: slo.limit(f"{slo.name}[{kind}]", limit) for kind, limit in limits.items()}


def evaluate(slos: Mapping[str, Any], history: History, timeline: Timeline, *,
             readback: Readback | None = None) -> list[SLOResult]:
    """Run every declared SLO (name -> limit, as in a marker) and return the verdicts, in the order declared."""
    evidence = Evidence(history, timeline, readback)
    results: list[SLOResult] = []
    for name, limit in parse(slos).items():
        slo = SLOS[name]
        if isinstance(limit, dict) and slo.by_kind is not None:
            results += [slo.by_kind(evidence, n, kind) for kind, n in limit.items()]
        else:
            results.append(slo.check(evidence, limit))
    return results
