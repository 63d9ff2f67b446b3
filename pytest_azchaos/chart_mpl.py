"""The timeline chart drawn by matplotlib (the ``report`` extra), as SVG text and PNG bytes.

Top: requests per second per kind (ok solid, failed dashed, unknown dotted); bottom: latency p50,
p99 and max per window on a log axis; both: faults as shaded, labelled windows and the watch's
events as markers, labelled unless repeated or crowded (chart.event_rows). No pyplot: a bare
Figure has no global state and no GUI backend.
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from . import chart
from .history import FAILED, OK, UNKNOWN

STYLES = {OK: "-", FAILED: "--", UNKNOWN: ":"}
EVENT_COLOURS = {"failover": "#0057b8", "db-leader": "#5b8fd0", "target": "#777777", "sync": "#8a5cc2",
                 "drives": "#b07a00", "steady": "#2a8a2a", "not-steady": "#cc6600", "nemesis": "#444444"}
FAULT_COLOUR = "#d62728"
# An event label's width per character, as a share of the axes' width: 7 pt DejaVu Sans at 100 dpi
# is about 5.8 px a character, on axes about 780 px wide.
CHAR_SHARE = 0.0075
LABEL_BOX = {"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 0.5}  # readable over the lines


def svg(data: dict[str, Any], *, title: str = "") -> str:
    """The chart as an ``<svg>`` element (no XML prolog), its text kept as text."""
    with rc_context({"svg.fonttype": "none"}):  # ids stay random: several charts share one page
        out = io.StringIO()
        _figure(data, title).savefig(out, format="svg")
    text = out.getvalue()
    return text[text.index("<svg"):]


def png(data: dict[str, Any], *, title: str = "") -> bytes:
    """The chart as PNG bytes."""
    out = io.BytesIO()
    _figure(data, title).savefig(out, format="png", dpi=100)
    return out.getvalue()


def _figure(data: dict[str, Any], title: str) -> Figure:
    figure = Figure(figsize=(10, 5.2), layout="constrained")
    rate, lat = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    _rates(rate, data)
    _latency(lat, data)
    placed = chart.event_rows(data, rows=7, char_share=CHAR_SHARE)
    for axes in (rate, lat):
        _faults(axes, data, labelled=axes is rate)
        _events(axes, data, placed, labelled=axes is rate)
        axes.grid(True, alpha=0.3)
    rate.set_xlim(*chart.span(data))
    note = chart.unlabelled_note(placed)
    lat.set_xlabel(f"seconds from the {data['origin']}" + (f"\n{note}" if note else ""))
    figure.suptitle(chart.heading(data, title), fontsize=10)
    return figure


def _rates(axes: Axes, data: dict[str, Any]) -> None:
    # Each window's rate is held until the window ends: one more point closes the last one.
    ts = [w["t"] for w in data["windows"]] + [data["windows"][-1]["t"] + data["window_s"]] if data["windows"] else []
    for i, kind in enumerate(chart.kinds(data)):
        colour = f"C{i % 10}"
        for outcome, style in STYLES.items():
            values = chart.per_second(data, kind, outcome)
            if outcome == OK or any(values):
                axes.step(ts, [*values, values[-1]], where="post", linestyle=style, color=colour,
                          label=f"{kind} {outcome}")
    axes.set_ylabel("requests / s")
    axes.set_ylim(bottom=0)
    if data["windows"]:
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)


def _latency(axes: Axes, data: dict[str, Any]) -> None:
    # max first, so that p99 (often equal to it in a small window) is drawn over it and stays visible
    for key, colour in (("max_s", "#7f7f7f"), ("p99_s", "#ff7f0e"), ("p50_s", "#2ca02c")):
        points = [(w["t"] + data["window_s"] / 2, w[key]) for w in data["windows"] if w[key]]
        if points:
            axes.plot(*zip(*points, strict=True), color=colour, marker=".", markersize=3, label=key[:-2],
                      linewidth=1.6 if key == "p99_s" else 1.0)
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(FuncFormatter(_seconds))
    axes.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_minor_formatter(NullFormatter())
    axes.set_ylabel("latency")
    if any(w["p50_s"] for w in data["windows"]):
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)


def _seconds(value: float, _: object = None) -> str:
    return f"{value * 1000:g} ms" if value < 1 else f"{value:g} s"


def _faults(axes: Axes, data: dict[str, Any], *, labelled: bool) -> None:
    right = chart.span(data)[1]
    rows = chart.label_rows([(f["start"], f["subject"]) for f in data["faults"]], data, rows=3, flip=False)
    for row, fault in zip(rows, data["faults"], strict=True):
        end = right if fault["end"] is None else fault["end"]
        axes.axvspan(fault["start"], end, color=FAULT_COLOUR, alpha=0.12, linewidth=0)
        if labelled:
            axes.text(fault["start"], 1 - 0.07 * row, f" {fault['subject']}", transform=axes.get_xaxis_transform(),
                      va="top", fontsize=8, color=FAULT_COLOUR)


def _events(axes: Axes, data: dict[str, Any], placed: chart.Placed, *, labelled: bool) -> None:
    for event, row in placed:
        colour = EVENT_COLOURS.get(event["kind"], "#999999")
        axes.axvline(event["t"], color=colour, linestyle=(0, (2, 2)), linewidth=0.9)
        if labelled and row is not None:
            label = chart.event_label(event)
            left = chart.near_right_edge(event["t"], data)  # written leftwards, to stay inside the chart
            axes.text(event["t"], 0.8 - 0.09 * row, f"{label} " if left else f" {label}", fontsize=7, color=colour,
                      ha="right" if left else "left", transform=axes.get_xaxis_transform(), clip_on=False,
                      bbox=LABEL_BOX)
