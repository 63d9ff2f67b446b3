"""The per-test timeline chart: its data (per kind and outcome, latency per window, fault windows,
events, in seconds from the first fault), and both drawings (matplotlib and the hand-written SVG)."""

from __future__ import annotations

import pytest

from pytest_azchaos import chart
from pytest_azchaos.history import FAILED, OK, UNKNOWN, History, Operation
from pytest_azchaos.timeline import Event, Timeline


def op(t: float, outcome: str = OK, took: float = 0.01, kind: str = "read") -> Operation:
    return Operation(kind, t, t, t + took, outcome)


def timeline(*events: Event) -> Timeline:
    found = Timeline()
    found._events = list(events)
    return found


RUN = History([op(100.0), op(100.5, took=0.2, kind="write"), op(101.6, FAILED), op(102.1, UNKNOWN, took=10),
               op(102.4, took=0.03)])
EVENTS = timeline(Event(101.5, 5001.5, "inject", "outage(a, <power>)"), Event(103.2, 5003.2, "failover", "db", "x"),
                  Event(104.0, 5004.0, "heal", "outage(a, <power>)"), Event(104.5, 5004.5, "inject", "cut(a/app->db)"))


def test_series_counts_each_kind_and_outcome_per_window_from_the_first_fault() -> None:
    data = chart.series(RUN, EVENTS)
    assert data is not None
    assert data["origin"] == "first fault" and data["t0_wall"] == 5001.5
    assert [w["t"] for w in data["windows"]] == [-2, -1, 0]
    first, _, last = data["windows"]
    assert first["counts"] == {"read": {"ok": 1, "failed": 0, "unknown": 0}}
    assert last["counts"] == {"read": {"ok": 1, "failed": 1, "unknown": 1}}
    assert (last["p50_s"], last["p99_s"], last["max_s"]) == (0.01, 0.03, 0.03)  # unknown: no latency


def test_series_pairs_each_inject_with_its_heal_and_keeps_every_event() -> None:
    data = chart.series(RUN, EVENTS)
    assert data is not None
    assert [(f["subject"], f["start"], f["end"]) for f in data["faults"]] == [
        ("outage(a, <power>)", 0, 2.5), ("cut(a/app->db)", 3.0, None)]  # never healed: open to the end
    assert [(e["t"], e["kind"], e["wall"]) for e in data["events"]] == [
        (0, "inject", 5001.5), (1.7, "failover", 5003.2), (2.5, "heal", 5004.0), (3.0, "inject", 5004.5)]


def test_without_a_fault_time_zero_is_the_first_request_and_without_anything_there_is_no_chart() -> None:
    data = chart.series(RUN, Timeline())
    assert data is not None and data["origin"] == "first request" and data["windows"][0]["t"] == 0
    assert chart.series(History(), Timeline()) is None
    assert chart.svg(None) == "" and chart.png(None) is None


def test_hand_written_svg_shows_rates_latency_labelled_fault_windows_and_events(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZCHAOS_CHART", "svg")
    assert chart.engine() == "svg"
    drawing = chart.svg(chart.series(RUN, EVENTS), title="test_x")
    assert drawing.startswith("<svg") and drawing.endswith("</svg>")
    assert "test_x - t = 0 at first fault" in drawing
    assert drawing.count('class="fault"') == 2 and ">outage(a, &lt;power&gt;)</text>" in drawing  # escaped
    assert 'class="event"' in drawing and ">failover db x</text>" in drawing
    assert ">read failed</text>" in drawing and ">read unknown</text>" in drawing and ">write ok</text>" in drawing
    assert ">latency p99</text>" in drawing and ">10 ms</text>" in drawing  # the log axis
    assert chart.png(chart.series(RUN, EVENTS)) is None  # no PNG without matplotlib


def test_matplotlib_draws_the_same_as_svg_text_and_png(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZCHAOS_CHART", raising=False)
    assert chart.engine() == "matplotlib"  # the dev extra installs it: CI draws both ways
    data = chart.series(RUN, EVENTS)
    drawing = chart.svg(data, title="test_x")
    assert drawing.startswith("<svg") and drawing.rstrip().endswith("</svg>")
    for label in ("outage(a, &lt;power&gt;)", "failover db x", "read failed", "seconds from the first fault",
                  "test_x - t = 0 at first fault", "p99"):
        assert label in drawing, label
    picture = chart.png(data, title="test_x")
    assert picture is not None and picture.startswith(b"\x89PNG\r\n\x1a\n") and len(picture) > 10_000


def test_labels_that_would_overlap_get_rows_of_their_own() -> None:
    data = {"windows": [{"t": t} for t in range(100)], "window_s": 1.0, "events": [], "faults": []}
    rows = chart.label_rows([(0, "a long label here"), (5, "another label"), (50, "far away"), (51, "x")], data,
                            rows=3)
    assert rows == [0, 1, 0, 1]
    assert chart.label_rows([(0, "a"), (1, "b"), (2, "c")], data, rows=2) == [0, 0, 0]  # short: no overlap
    # Near the right edge a label is written leftwards (to stay inside), over one written rightwards.
    assert chart.near_right_edge(90, data) and not chart.near_right_edge(60, data)
    assert chart.label_rows([(60, "x" * 40), (90, "y" * 40)], data, rows=2) == [0, 1]
    assert chart.label_rows([(60, "x" * 40), (90, "y" * 40)], data, rows=2, flip=False) == [0, 0]


def crowded(*labels: tuple[float, str, str]) -> dict:
    """Chart data over 0..100 s with these events (time, kind, subject), no windows."""
    events = [{"t": t, "wall": 0.0, "kind": kind, "subject": subject, "detail": ""} for t, kind, subject in labels]
    window = {"counts": {"read": {OK: 10, FAILED: 0, UNKNOWN: 0}}, "p50_s": 0.01, "p99_s": 0.02, "max_s": 0.03}
    return {"windows": [{"t": t, **window} for t in range(100)], "window_s": 1.0, "events": events, "faults": [],
            "origin": "first fault", "t0_wall": 0.0}


def test_an_event_label_is_left_out_when_it_repeats_or_has_no_room_and_labels_never_overlap() -> None:
    data = crowded((1, "lb", "a marked failed"), (2, "lb", "b marked failed"), (3, "lb", "c marked failed"),
                   (7, "lb", "a marked failed"), (50, "sync", "db"), (60, "inject", "outage(a)"))
    placed = chart.event_rows(data, rows=2)
    assert [(e["t"], row) for e, row in placed] == [(1, 0), (2, 1), (3, None), (7, None), (50, 0)]  # no inject
    assert chart.unlabelled_note(placed) == ("2 of 5 event markers have no label here (a repeat, or no room): "
                                             "the list of events has them all")
    assert chart.unlabelled_note(chart.event_rows(data, rows=3)).startswith("1 of 5 ")  # only the repeat
    assert chart.unlabelled_note(chart.event_rows(crowded((1, "sync", "db")), rows=1)) == ""
    # A label that differs only by its closing count repeats; one that differs otherwise does not.
    counted = crowded((1, "lb", "a marked failed, 1 failure"), (20, "lb", "a marked failed, 12 failures"),
                      (40, "capacity", "app 2/3"), (60, "capacity", "app 3/3"))
    assert [row for _, row in chart.event_rows(counted, rows=2)] == [0, None, 0, 0]


@pytest.mark.parametrize("engine", ["matplotlib", "svg"])
def test_both_drawings_label_a_repeated_event_once_and_say_how_many_went_unlabelled(
        engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZCHAOS_CHART", engine)
    events = [(t, "lb", "app-a-1 marked failed") for t in range(0, 60, 6)] + [(30, "failover", "db")]
    drawing = chart.svg(crowded(*events))
    assert drawing.count("lb app-a-1 marked failed</text>") == 1 and "failover db</text>" in drawing
    assert "9 of 11 event markers have no label here" in drawing
    assert drawing.count('class="event"' if engine == "svg" else "stroke-dasharray") >= 11  # every marker drawn


def test_a_test_name_too_long_for_the_chart_title_loses_its_middle() -> None:
    data = {"t0_wall": 0, "origin": "first fault"}
    assert chart.heading(data, "test_x").startswith("test_x - t = 0 at first fault, ")
    name = "test_outage[" + "twenty_requests_a_second_" * 6 + "while_az_a_has_no_power]"
    title = chart.heading(data, name)
    assert len(title) == chart.HEADING_CHARS
    shown = title.split(" - t = 0")[0]
    assert shown.startswith("test_outage[twenty_") and shown.endswith("_az_a_has_no_power]") and "\u2026" in shown
