"""What people look at: the terminal summary of SLOs, Allure attachments, an HTML/JSON report."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import pytest

from .checks import SLOResult
from .faults import Fault
from .timeline import Event


class Reporter:
    """A plugin on our own hooks: it collects SLO verdicts and fault events, then reports them."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rows: list[tuple[str, SLOResult]] = []
        self.events: list[dict[str, Any]] = []

    def pytest_azchaos_fault_injected(self, fault: Fault, event: Event) -> None:
        self.events.append(event.to_dict())

    def pytest_azchaos_fault_healed(self, fault: Fault, event: Event) -> None:
        self.events.append(event.to_dict())

    def pytest_azchaos_slo_evaluated(self, item: pytest.Item, results: list[SLOResult]) -> None:
        self.rows.extend((item.nodeid, r) for r in results)
        _attach_to_allure(item.nodeid, results)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.rows:
            return
        tr = terminalreporter
        tr.write_sep("=", "azchaos SLOs")
        width = max(len(nodeid) for nodeid, _ in self.rows)
        slo_width = max(len(r.name) for _, r in self.rows)
        tr.write_line(f"{'test':<{width}}  {'SLO':<{slo_width}} {'value':>9} {'limit':>9}  verdict")
        for nodeid, r in self.rows:
            verdict = "PASS" if r.passed else "FAIL"
            tr.write_line(f"{nodeid:<{width}}  {r.name:<{slo_width}} {show(r, r.value):>9} {show(r, r.limit):>9}"
                          f"  {verdict}", green=r.passed, red=not r.passed)
        path = self.write(Path(self.config.getoption("azchaos_report")))
        tr.write_line(f"azchaos report: {path}")

    def write(self, folder: Path) -> Path:
        """Write report.json and report.html into ``folder``; return the HTML path."""
        folder.mkdir(parents=True, exist_ok=True)
        data = {
            "slos": [dict(test=nodeid, **_json_safe(r.__dict__), shown=show(r, r.value), shown_limit=show(r, r.limit))
                     for nodeid, r in self.rows],
            "events": self.events,
        }
        (folder / "report.json").write_text(json.dumps(data, indent=2))
        page = folder / "report.html"
        page.write_text(_html(data))
        return page.resolve()


def _json_safe(fields: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN or infinity: write them as null (the ``shown`` text says n/a or never)."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in fields.items()}


def show(result: SLOResult, value: float) -> str:
    """Format an SLO's value or limit for people: durations in ms or s, fractions as percentages."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "never"
    if result.unit == "s":
        return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.1f}s"
    if result.name == "availability":
        return f"{value:.2%}"
    return f"{value:g}"


def _attach_to_allure(nodeid: str, results: list[SLOResult]) -> None:
    try:
        import allure
    except ImportError:  # allure-pytest is a dependency, but reports must never break a run
        return
    text = "\n".join(f"{'PASS' if r.passed else 'FAIL'}  {r.message}" for r in results)
    allure.attach(text, name="azchaos SLOs", attachment_type=allure.attachment_type.TEXT)


def _html(data: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr class={'pass' if s['passed'] else 'fail'}><td>{html.escape(s['test'])}</td>"
        f"<td>{html.escape(s['name'])}</td><td>{html.escape(s['shown'])}</td><td>{html.escape(s['shown_limit'])}</td>"
        f"<td>{'PASS' if s['passed'] else 'FAIL'}</td><td>{html.escape(s['message'])}</td></tr>"
        for s in data["slos"]
    )
    events = "".join(
        f"<tr><td>{e['wall']:.3f}</td><td>{html.escape(e['kind'])}</td><td>{html.escape(e['subject'])}</td></tr>"
        for e in data["events"]
    )
    return f"""<!doctype html><meta charset=utf-8><title>azchaos report</title>
<style>body{{font-family:sans-serif}} td,th{{padding:2px 8px;text-align:left}}
.pass td:nth-child(5){{color:green}} .fail td:nth-child(5){{color:#b00;font-weight:bold}}</style>
<h1>azchaos report</h1><h2>SLOs</h2>
<table><tr><th>test<th>SLO<th>value<th>limit<th>verdict<th>detail</tr>{rows}</table>
<h2>Fault timeline</h2><table><tr><th>wall clock<th>event<th>fault</tr>{events}</table>
"""
