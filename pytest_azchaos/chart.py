"""A test's run at a glance: requests per second (ok / not ok), p99 latency, and the timeline's
events, as data for report.json and as a standalone SVG for report.html (no JavaScript)."""

from __future__ import annotations

import html
from typing import Any

from .checks import latency_windows
from .history import OK, History
from .timeline import Timeline

WIDTH, HEIGHT, LEFT, BOTTOM = 760, 180, 40, 20
COLOURS = {"inject": "#c00", "heal": "#080", "failover": "#06c", "target": "#999", "drives": "#999",
           "db-leader": "#69c"}


def series(history: History, timeline: Timeline, *, window_s: float = 1.0) -> dict[str, Any]:
    """Per-window counts and p99 latency, and the events, in seconds since the first operation."""
    ops = history.operations
    if not ops:
        return {"windows": [], "events": []}
    t0 = ops[0].scheduled
    counts: dict[int, list[int]] = {}
    for op in ops:
        bucket = counts.setdefault(int((op.scheduled - t0) // window_s), [0, 0])
        bucket[op.outcome != OK] += 1
    p99 = {round((w["start"] - t0) / window_s): w["p99"] for w in latency_windows(history, window_s=window_s)}
    windows = [{"t": i * window_s, "ok": ok, "not_ok": bad, "p99_s": p99.get(i)}
               for i, (ok, bad) in sorted(counts.items())]
    events = [{"t": round(e.mono - t0, 3), "kind": e.kind, "subject": e.subject, "detail": e.detail}
              for e in timeline.events]
    return {"windows": windows, "events": events}


def svg(data: dict[str, Any]) -> str:
    """Draw ``series()`` data: stacked bars of ok (green) and not ok (red) per window, the p99
    latency as a line (right scale), and a vertical line per event."""
    windows, events = data["windows"], data["events"]
    if not windows:
        return ""
    span = max([w["t"] for w in windows] + [e["t"] for e in events] + [1.0]) + 1
    top = max(w["ok"] + w["not_ok"] for w in windows) or 1
    slowest = max((w["p99_s"] or 0) for w in windows) or 1

    def x(t: float) -> float:
        return float(LEFT + (WIDTH - LEFT - 10) * t / span)

    def y(value: float, scale: float) -> float:
        return HEIGHT - BOTTOM - (HEIGHT - BOTTOM - 10) * value / scale

    bar = max(1.0, x(1) - x(0) - 1)
    parts = [f'<rect x="{x(w["t"]):.1f}" y="{y(w["ok"], top):.1f}" width="{bar:.1f}" '
             f'height="{HEIGHT - BOTTOM - y(w["ok"], top):.1f}" fill="#8c8"/>'
             f'<rect x="{x(w["t"]):.1f}" y="{y(w["ok"] + w["not_ok"], top):.1f}" width="{bar:.1f}" '
             f'height="{y(w["ok"], top) - y(w["ok"] + w["not_ok"], top):.1f}" fill="#e55"/>' for w in windows]
    line = " ".join(f'{x(w["t"] + 0.5):.1f},{y(w["p99_s"], slowest):.1f}' for w in windows if w["p99_s"] is not None)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#333" stroke-width="1.5"/>')
    for e in events:
        label = html.escape(f'{e["t"]:+.1f} s {e["kind"]} {e["subject"]} {e["detail"]}'.strip())
        parts.append(f'<line x1="{x(e["t"]):.1f}" x2="{x(e["t"]):.1f}" y1="5" y2="{HEIGHT - BOTTOM}" '
                     f'stroke="{COLOURS.get(e["kind"], "#999")}" stroke-dasharray="4 2"><title>{label}</title></line>')
    axis = (f'<text x="{LEFT - 4}" y="14" text-anchor="end" font-size="10">{top}/s</text>'
            f'<text x="{WIDTH - 4}" y="14" text-anchor="end" font-size="10">p99 {slowest * 1000:.0f} ms</text>'
            f'<text x="{LEFT}" y="{HEIGHT - 4}" font-size="10">0 s</text>'
            f'<text x="{WIDTH - 10}" y="{HEIGHT - 4}" text-anchor="end" font-size="10">{span:.0f} s</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'font-family="sans-serif">{"".join(parts)}{axis}</svg>')
