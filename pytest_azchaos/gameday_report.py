"""A game day's report: report.json (kind "gameday") and report.html, through the report module
when it offers ``write_report`` (docs/reports.md), else as plain JSON and a small page of our own."""

from __future__ import annotations

import html
import importlib
import json
import math
from pathlib import Path
from typing import Any

from .gameday import GameDayResult


def verdict(result: GameDayResult) -> str:
    """The game day's verdict in report.json's words."""
    if not result.completed or result.heal_errors:
        return "failed"
    return "passed" if all(slo.passed for _, slo in result.verdicts) else "slo_broken"


def write(result: GameDayResult, folder: str | Path, *, environment: dict[str, Any] | None = None) -> Path:
    """Write the report of ``result`` into ``folder``; return the HTML page's path."""
    write_report = getattr(optional_module("report"), "write_report", None)
    data_module = optional_module("report_data")
    if write_report is None or data_module is None:  # the report module does not offer it (yet)
        return _write_own(result, Path(folder))
    report, test_entry = data_module.report, data_module.test_entry
    results = [slo for _, slo in result.verdicts]
    entry = test_entry(f"gameday: {result.scenario.name}", verdict=verdict(result), history=result.history,
                       timeline=result.timeline, results=results)
    if result.aborted:
        entry["reason"] = result.aborted
    if environment is not None:
        entry["run_id"] = environment["run_id"]
    data = report([entry], kind="gameday", title=result.scenario.name,
                  environments=[environment] if environment is not None else [])
    return Path(write_report(data, folder))


def optional_module(name: str) -> Any:
    try:
        return importlib.import_module(f"pytest_azchaos.{name}")
    except ImportError:
        return None


def data(result: GameDayResult) -> dict[str, Any]:
    """The report as JSON data (the fallback's report.json)."""
    events = [e.to_dict() for e in result.timeline.events]
    return {
        "kind": "gameday", "title": result.scenario.name, "created": result.started_wall,
        "scenario": str(result.scenario.path), "run_id": result.run_id, "verdict": verdict(result),
        "completed": result.completed, "aborted": result.aborted, "heal_errors": result.heal_errors,
        "duration_s": round(result.duration_s, 3), "steps_done": result.steps_done,
        "steps": [{"line": s.line, "kind": s.kind, "title": s.title} for s in result.scenario.steps],
        "slos": [{"line": step.line, "name": slo.name, "value": _finite(slo.value), "limit": _finite(slo.limit),
                  "passed": slo.passed, "message": slo.message, "unit": slo.unit} for step, slo in result.verdicts],
        "requests": len(result.history), "events": events,
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _write_own(result: GameDayResult, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    found = data(result)
    (folder / "report.json").write_text(json.dumps(found, indent=2))
    rows = "".join(f"<tr><td>{s['line']}</td><td>{html.escape(s['name'])}</td>"
                   f"<td>{'PASS' if s['passed'] else 'FAIL'}</td><td>{html.escape(s['message'])}</td></tr>"
                   for s in found["slos"])
    events = "".join(f"<tr><td>{e['mono'] - result.timeline.events[0].mono:+.1f} s</td>"
                     f"<td>{html.escape(e['kind'])}</td><td>{html.escape(e['subject'])}</td>"
                     f"<td>{html.escape(e['detail'])}</td></tr>" for e in found["events"])
    aborted = f"<p><b>aborted:</b> {html.escape(result.aborted)}</p>" if result.aborted else ""
    page = folder / "report.html"
    page.write_text(f"<!doctype html><meta charset=utf-8><title>game day {html.escape(result.scenario.name)}"
                    f"</title><h1>game day {html.escape(result.scenario.name)}: {found['verdict']}</h1>{aborted}"
                    f"<table><tr><th>line<th>SLO<th>verdict<th>detail</tr>{rows}</table>"
                    f"<h2>events</h2><table>{events}</table>")
    return page.resolve()
