"""A test's run at a glance: its data (requests per second per kind and outcome, latency per window,
fault windows and events, in seconds from the first fault), and drawings of it as SVG and PNG.

matplotlib draws the chart when it is installed (the ``report`` extra: chart_mpl.py); otherwise a
hand-written SVG does (chart_svg.py) and there is no PNG. ``AZCHAOS_CHART=svg`` forces the latter.

Example::

    data = chart.series(experiment.history, experiment.timeline)
    page_part = chart.svg(data)      # inline in HTML
    picture = chart.png(data)        # bytes, or None without matplotlib
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from typing import Any

from .checks import percentile
from .history import FAILED, OK, UNKNOWN, History, Operation
from .timeline import HEAL, INJECT, Event, Timeline

OUTCOMES = (OK, FAILED, UNKNOWN)


def series(history: History, timeline: Timeline, *, window_s: float = 1.0) -> dict[str, Any] | None:
    """Return the chart's data (the ``chart`` of report.json), or None if nothing was recorded."""
    ops, events = history.operations, timeline.events
    origin = time_zero(ops, events)
    if origin is None:
        return None
    t0, what = origin
    to_wall = _wall_offset(events)
    return {
        "origin": what,
        "t0_wall": round(t0 + to_wall, 3),
        "window_s": window_s,
        "windows": _windows(ops, t0, window_s),
        "faults": fault_windows(events, t0),
        "events": relative_events(events, t0),
    }


def time_zero(ops: Sequence[Operation], events: Sequence[Event]) -> tuple[float, str] | None:
    """Time zero (monotonic) and what it is: the first fault if any (people ask what happened after
    it), else the first request, else the first event."""
    inject = next((e.mono for e in events if e.kind == INJECT), None)
    if inject is not None:
        return inject, "first fault"
    if ops:
        return ops[0].scheduled, "first request"
    if events:
        return events[0].mono, "first event"
    return None


def _wall_offset(events: Sequence[Event]) -> float:
    """Add this to a monotonic time to get the wall-clock time (events carry both)."""
    if events:
        return events[0].wall - events[0].mono
    return time.time() - time.monotonic()


def _windows(ops: Sequence[Operation], t0: float, window_s: float) -> list[dict[str, Any]]:
    buckets: dict[int, list[Operation]] = {}
    for op in ops:
        buckets.setdefault(int((op.scheduled - t0) // window_s), []).append(op)
    return [_window(i * window_s, found) for i, found in sorted(buckets.items())]


def _window(t: float, ops: list[Operation]) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    for op in ops:
        counts.setdefault(op.kind, dict.fromkeys(OUTCOMES, 0))[op.outcome] += 1
    answered = [op.latency for op in ops if op.outcome != UNKNOWN]
    p50, p99, slowest = (round(percentile(answered, q), 6) if answered else None for q in (50, 99, 100))
    return {"t": round(t, 3), "counts": counts, "p50_s": p50, "p99_s": p99, "max_s": slowest}


def fault_windows(events: Sequence[Event], t0: float) -> list[dict[str, Any]]:
    """Each fault from its inject to its heal (``end`` None if it was never healed)."""
    windows: list[dict[str, Any]] = []
    open_: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        if e.kind == INJECT:
            window = {"subject": e.subject, "start": round(e.mono - t0, 3), "end": None,
                      "start_wall": round(e.wall, 3), "end_wall": None}
            windows.append(window)
            open_.setdefault(e.subject, []).append(window)
        elif e.kind == HEAL and open_.get(e.subject):
            window = open_[e.subject].pop(0)
            window.update(end=round(e.mono - t0, 3), end_wall=round(e.wall, 3))
    return windows


def relative_events(events: Sequence[Event], t0: float) -> list[dict[str, Any]]:
    """Every event with its time from ``t0`` (``t``) and its wall-clock time."""
    return [{"t": round(e.mono - t0, 3), "wall": round(e.wall, 3), "kind": e.kind, "subject": e.subject,
             "detail": e.detail} for e in events]


def engine() -> str:
    """Which drawing is used: "matplotlib", or "svg" (hand-written) when it is missing or forced."""
    if os.environ.get("AZCHAOS_CHART", "").lower() == "svg":
        return "svg"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "svg"
    return "matplotlib"


def svg(data: dict[str, Any] | None, *, title: str = "") -> str:
    """Draw ``series()`` data as an SVG element for inline HTML ("" when there is no data)."""
    if not data or not (data["windows"] or data["events"]):
        return ""
    if engine() == "matplotlib":
        from . import chart_mpl
        return chart_mpl.svg(data, title=title)
    from . import chart_svg
    return chart_svg.draw(data, title=title)


def png(data: dict[str, Any] | None, *, title: str = "") -> bytes | None:
    """Draw ``series()`` data as a PNG; None without matplotlib (or with no data)."""
    if not data or not (data["windows"] or data["events"]) or engine() != "matplotlib":
        return None
    from . import chart_mpl
    return chart_mpl.png(data, title=title)


HEADING_CHARS = 110  # what fits across either chart at its title's size, with room to spare


def heading(data: dict[str, Any], title: str = "") -> str:
    """The chart's title: the test, and the wall-clock time of t = 0 (the first fault). A test name
    too long for the line loses its middle (the page's heading above the chart has it whole)."""
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(data["t0_wall"]))
    rest = f"t = 0 at {data['origin']}, {when}"
    room = HEADING_CHARS - len(rest) - len(" - ")
    if len(title) > room:
        keep = max(room - 1, 2)
        title = f"{title[: (keep + 1) // 2]}\u2026{title[len(title) - keep // 2:]}"
    return f"{title + ' - ' if title else ''}{rest}"


def kinds(data: dict[str, Any]) -> list[str]:
    """The operation kinds in the windows, in order of first appearance."""
    return list(dict.fromkeys(kind for w in data["windows"] for kind in w["counts"]))


def per_second(data: dict[str, Any], kind: str, outcome: str) -> list[float]:
    """Requests per second of one kind and outcome, one value per window."""
    return [w["counts"].get(kind, {}).get(outcome, 0) / data["window_s"] for w in data["windows"]]


def span(data: dict[str, Any]) -> tuple[float, float]:
    """The time range to draw: every window, fault and event, with a little room."""
    times = [w["t"] for w in data["windows"]] + [w["t"] + data["window_s"] for w in data["windows"]]
    times += [e["t"] for e in data["events"]] + [f["start"] for f in data["faults"]]
    times += [f["end"] for f in data["faults"] if f["end"] is not None]
    low, high = min(times), max(times)
    return low - 0.5, max(high, low + 1) + 0.5


FAULT_KINDS = {INJECT, HEAL}


def label_rows(labels: Sequence[tuple[float, str]], data: dict[str, Any], *, rows: int, flip: bool = True,
               char_share: float = 0.006) -> list[int]:
    """A text row for each label (time, text), so that labels do not overlap; a label takes about
    ``char_share`` of the chart's width per character, leftwards near the right edge if ``flip``.
    When every row is taken, the least crowded one."""
    return [row for row in _rows(labels, data, rows, flip, char_share, share=True) if row is not None]


#: each event drawn as a marker, with its label's text row (None: no label)
Placed = list[tuple[dict[str, Any], int | None]]


def event_rows(data: dict[str, Any], *, rows: int, char_share: float = 0.006) -> Placed:
    """The events drawn as markers (all but injects and heals, which are the fault windows), each
    with the text row of its label, or None when it goes unlabelled: its label repeats an earlier
    one (a target marked failed every few seconds; a label that differs only by its closing count,
    ", 3 failures", is a repeat too), or no row has room for it. Event labels never
    overlap, unlike fault labels: a region's watch can report dozens of events in a minute, and
    piled-up text is unreadable. Every event is listed in the report's Events table anyway."""
    markers = [e for e in data["events"] if e["kind"] not in FAULT_KINDS]
    seen: set[str] = set()
    fresh = []
    for event in markers:
        label = _TRAILING_COUNT.sub("", event_label(event))
        fresh.append(label not in seen)
        seen.add(label)
    wanted = [(e["t"], event_label(e)) for e, new in zip(markers, fresh, strict=True) if new]
    placed = iter(_rows(wanted, data, rows, True, char_share, share=False))
    return [(event, next(placed) if new else None) for event, new in zip(markers, fresh, strict=True)]


#: a label's closing count, as in "lb app-a-1 marked failed: timed out (connecting), 3 failures"
_TRAILING_COUNT = re.compile(r", \d+ \w+$")


def unlabelled_note(placed: Placed) -> str:
    """A line under the chart when some markers have no label ("" when all do)."""
    missing = sum(row is None for _, row in placed)
    if not missing:
        return ""
    return (f"{missing} of {len(placed)} event markers have no label here (a repeat, or no room): "
            "the list of events has them all")


def _rows(labels: Sequence[tuple[float, str]], data: dict[str, Any], rows: int, flip: bool, char_share: float,
          *, share: bool) -> list[int | None]:
    """For each label, the first row with room for it; when there is none, the least crowded row
    if ``share``, else None (and the label takes no room)."""
    low, high = span(data)
    taken: list[list[tuple[float, float]]] = [[] for _ in range(rows)]
    found: list[int | None] = []
    for t, text in labels:
        size = len(text) * char_share * (high - low)
        start, end = (t - size, t) if flip and near_right_edge(t, data) else (t, t + size)
        free = [r for r in range(rows) if all(end <= a or start >= b for a, b in taken[r])]
        row = free[0] if free else min(range(rows), key=lambda r: len(taken[r])) if share else None
        if row is not None:
            taken[row].append((start, end))
        found.append(row)
    return found


def event_label(event: dict[str, Any]) -> str:
    """An event's label on a chart: kind, subject and detail."""
    return f"{event['kind']} {event['subject']} {event['detail']}".strip()


def near_right_edge(t: float, data: dict[str, Any]) -> bool:
    """True for a time in the right third of the chart, where a label is better written leftwards."""
    low, high = span(data)
    return t > high - (high - low) / 3
