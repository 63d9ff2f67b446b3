"""The per-test chart of the report: windows of ok / not ok counts and p99, and the events."""

from __future__ import annotations

from pytest_azchaos import chart
from pytest_azchaos.history import FAILED, OK, History, Operation
from pytest_azchaos.timeline import Event, Timeline


def op(t: float, outcome: str = OK, took: float = 0.01) -> Operation:
    return Operation("read", t, t, t + took, outcome)


def test_series_counts_per_window_and_places_events() -> None:
    timeline = Timeline()
    timeline._events = [Event(101.5, 0, "inject", "outage(a, power)"), Event(103.2, 0, "failover", "db", "x")]
    history = History([op(100.0), op(100.5, took=0.2), op(101.6, FAILED), op(102.1)])
    data = chart.series(history, timeline)
    assert [(w["t"], w["ok"], w["not_ok"]) for w in data["windows"]] == [(0, 2, 0), (1, 0, 1), (2, 1, 0)]
    assert abs(data["windows"][0]["p99_s"] - 0.2) < 1e-9
    assert [(e["t"], e["kind"]) for e in data["events"]] == [(1.5, "inject"), (3.2, "failover")]


def test_svg_draws_bars_latency_and_events() -> None:
    timeline = Timeline()
    timeline._events = [Event(101.0, 0, "inject", "outage(a, <power>)")]
    drawing = chart.svg(chart.series(History([op(100.0), op(101.5, FAILED)]), timeline))
    assert drawing.startswith("<svg") and drawing.endswith("</svg>")
    assert 'fill="#e55"' in drawing and "<polyline" in drawing
    assert "+1.0 s inject outage(a, &lt;power&gt;)" in drawing  # escaped
    assert chart.svg(chart.series(History(), Timeline())) == ""
