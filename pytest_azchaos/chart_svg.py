"""The timeline chart as hand-written SVG: the fallback when matplotlib is not installed.

It shows what the matplotlib chart shows (chart_mpl.py), more plainly: requests per second per
kind and outcome, latency p50 / p99 / max on a log axis, faults as shaded labelled windows and
events as markers (labelled unless repeated or crowded), in seconds from the first fault.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape
from typing import Any

from . import chart
from .history import FAILED, OK, UNKNOWN

WIDTH, LEFT, RIGHT = 900, 56, 12
TOP_Y, TOP_H, LAT_Y, LAT_H, HEIGHT = 40, 190, 256, 110, 396
DASH = {OK: "", FAILED: ' stroke-dasharray="6 3"', UNKNOWN: ' stroke-dasharray="2 2"'}
KIND_COLOURS = ("#1f77b4", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22")
LATENCY_COLOURS = {"max_s": "#7f7f7f", "p99_s": "#ff7f0e", "p50_s": "#2ca02c"}  # p99 drawn over max
Scale = Callable[[float], float]


def draw(data: dict[str, Any], *, title: str = "") -> str:
    """The chart as an ``<svg>`` element."""
    low, high = chart.span(data)

    def x(t: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (t - low) / (high - low)

    parts = [_text(LEFT, 16, chart.heading(data, title), size=12)]
    parts += _faults(data, x) + _rates(data, x) + _latency(data, x) + _events(data, x) + _time_axis(low, high, x)
    parts.append(_text(WIDTH - RIGHT, HEIGHT - 4, f"seconds from the {data['origin']}", anchor="end"))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" class="azchaos-chart">'
            f'{"".join(parts)}</svg>')


def _rates(data: dict[str, Any], x: Scale) -> list[str]:
    top = max([1.0] + [v for kind in chart.kinds(data) for o in DASH for v in chart.per_second(data, kind, o)])

    def y(value: float) -> float:
        return TOP_Y + TOP_H - TOP_H * value / top

    parts = [_frame(TOP_Y, TOP_H), _text(LEFT - 4, TOP_Y + 8, f"{top:g}/s", anchor="end"),
             _text(LEFT - 4, TOP_Y + TOP_H, "0", anchor="end")]
    legend = []
    for i, kind in enumerate(chart.kinds(data)):
        colour = KIND_COLOURS[i % len(KIND_COLOURS)]
        for outcome, dash in DASH.items():
            values = chart.per_second(data, kind, outcome)
            if outcome != OK and not any(values):
                continue
            points = " ".join(f"{x(w['t']):.1f},{y(v):.1f} {x(w['t'] + data['window_s']):.1f},{y(v):.1f}"
                              for w, v in zip(data["windows"], values, strict=True))
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"{dash}>'
                         f'<title>{escape(kind)} {outcome} per second</title></polyline>')
            legend.append((f"{kind} {outcome}", colour, dash))
    return parts + _legend(legend, TOP_Y - 6)


def _latency(data: dict[str, Any], x: Scale) -> list[str]:
    values = [w[k] for w in data["windows"] for k in LATENCY_COLOURS if w[k]]
    parts = [_frame(LAT_Y, LAT_H)]
    if not values:
        return [*parts, _text(LEFT + 4, LAT_Y + 14, "no answered requests: no latency")]
    low, high = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    high = max(high, low + 1)

    def y(value: float) -> float:
        return LAT_Y + LAT_H - LAT_H * (math.log10(value) - low) / (high - low)

    for power in range(low, high + 1):
        parts.append(_text(LEFT - 4, y(10.0 ** power) + 3, _seconds(10.0 ** power), anchor="end"))
    legend = []
    for key, colour in LATENCY_COLOURS.items():
        points = " ".join(f"{x(w['t'] + data['window_s'] / 2):.1f},{y(w[key]):.1f}" for w in data["windows"] if w[key])
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.3">'
                     f'<title>latency {key[:-2]}</title></polyline>')
        legend.append((f"latency {key[:-2]}", colour, ""))
    return parts + _legend(legend, LAT_Y - 6)


def _faults(data: dict[str, Any], x: Scale) -> list[str]:
    parts = []
    right = chart.span(data)[1]
    rows = chart.label_rows([(f["start"], f["subject"]) for f in data["faults"]], data, rows=3, flip=False)
    for row, fault in zip(rows, data["faults"], strict=True):
        start, end = x(fault["start"]), x(right if fault["end"] is None else fault["end"])
        healed = "never healed" if fault["end"] is None else f"healed at {fault['end']:+.1f} s"
        parts.append(f'<rect class="fault" x="{start:.1f}" y="{TOP_Y}" width="{max(end - start, 1):.1f}" '
                     f'height="{LAT_Y + LAT_H - TOP_Y}" fill="#d62728" fill-opacity="0.12">'
                     f'<title>{escape(fault["subject"])}: {fault["start"]:+.1f} s, {healed}</title></rect>')
        parts.append(_text(start + 2, TOP_Y + 11 + 11 * row, fault["subject"], colour="#d62728"))
    return parts


def _events(data: dict[str, Any], x: Scale) -> list[str]:
    lines, labels = [], []  # every marker first, then the labels over them
    placed = chart.event_rows(data, rows=10)
    for e, row in placed:
        label = chart.event_label(e)
        lines.append(f'<line class="event" x1="{x(e["t"]):.1f}" x2="{x(e["t"]):.1f}" y1="{TOP_Y}" '
                     f'y2="{LAT_Y + LAT_H}" stroke="#0057b8" stroke-dasharray="2 2">'
                     f'<title>{e["t"]:+.1f} s {escape(label)}</title></line>')
        if row is not None:
            left = chart.near_right_edge(e["t"], data)  # written leftwards, to stay inside the chart
            labels.append(_text(x(e["t"]) + (-2 if left else 2), TOP_Y + 50 + 11 * row, label, colour="#0057b8",
                                size=9, anchor="end" if left else "start", halo=True))
    note = chart.unlabelled_note(placed)
    return lines + labels + ([_text(LEFT, HEIGHT - 4, note, colour="#555")] if note else [])


def _time_axis(low: float, high: float, x: Scale) -> list[str]:
    step = _nice_step((high - low) / 8)
    first = math.ceil(low / step) * step
    ticks = [first + i * step for i in range(int((high - first) / step) + 1)]
    return [_text(x(t), LAT_Y + LAT_H + 12, f"{t:+g}" if t else "0", anchor="middle") for t in ticks]


def _nice_step(raw: float) -> float:
    power = 10.0 ** math.floor(math.log10(max(raw, 1e-3)))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _legend(entries: list[tuple[str, str, str]], y: float) -> list[str]:
    parts, at = [], LEFT + 6.0
    for label, colour, dash in entries:
        parts.append(f'<line x1="{at:.1f}" x2="{at + 16:.1f}" y1="{y - 3}" y2="{y - 3}" stroke="{colour}" '
                     f'stroke-width="1.5"{dash}/>')
        parts.append(_text(at + 19, y, label))
        at += 28 + 5.5 * len(label)
    return parts


def _frame(y: float, height: float) -> str:
    return (f'<rect x="{LEFT}" y="{y}" width="{WIDTH - LEFT - RIGHT}" height="{height}" fill="none" '
            f'stroke="#ccc"/>')


def _seconds(value: float) -> str:
    return f"{value * 1000:g} ms" if value < 1 else f"{value:g} s"


def _text(x: float, y: float, text: str, *, anchor: str = "start", colour: str = "#333", size: int = 10,
          halo: bool = False) -> str:
    # A halo (a white outline drawn under the letters) keeps a label readable over the lines.
    style = ' stroke="#fff" stroke-width="3" stroke-opacity="0.8" paint-order="stroke"' if halo else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{colour}"{style}>'
            f'{escape(text)}</text>')
