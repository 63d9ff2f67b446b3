"""What people look at: the terminal summary of SLOs, Allure attachments, an HTML/JSON report."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import chart
from .checks import SLOResult, distinct_digits
from .errors import NotSteady
from .faults import Fault
from .timeline import Event

if TYPE_CHECKING:
    from .experiment import Experiment

#: pytest's exit status when every failed test failed because the stack was not steady (no SLO was
#: broken): the run proves nothing either way, which a CI gate must tell apart from a broken SLO (1).
EXIT_NOT_STEADY = 6


class Reporter:
    """A plugin on our own hooks: it collects SLO verdicts and fault events, then reports them."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rows: list[tuple[str, SLOResult]] = []
        self.events: list[dict[str, Any]] = []
        self.runs: dict[str, dict[str, Any]] = {}  # test -> chart.series(): traffic per second and events
        self.tests: list[dict[str, Any]] = []  # each test's verdict: passed, slo_broken, not_steady, failed

    def pytest_azchaos_fault_injected(self, fault: Fault, event: Event) -> None:
        self.events.append(event.to_dict())

    def pytest_azchaos_fault_healed(self, fault: Fault, event: Event) -> None:
        self.events.append(event.to_dict())

    def pytest_azchaos_experiment_finished(self, item: pytest.Item, experiment: Experiment) -> None:
        if len(experiment.history) or experiment.timeline.events:
            self.runs[item.nodeid] = chart.series(experiment.history, experiment.timeline)

    def pytest_azchaos_slo_evaluated(self, item: pytest.Item, results: list[SLOResult]) -> None:
        self.rows.extend((item.nodeid, r) for r in results)
        _attach_to_allure(item.nodeid, results)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when != "call":
            return report
        excinfo = call.excinfo
        verdict: dict[str, Any] = {"test": item.nodeid, "verdict": "passed" if excinfo is None else "failed"}
        if excinfo is not None and isinstance(excinfo.value, NotSteady):
            error = excinfo.value
            verdict.update(verdict="not_steady", reason=str(error).removeprefix("stack not steady: "),
                           reasons=error.reasons)
            report.longrepr = f"{item.nodeid}: {error}"  # our own traceback would only hide the reason
        elif any(nodeid == item.nodeid and not r.passed for nodeid, r in self.rows):
            verdict["verdict"] = "slo_broken"
        self.tests.append(verdict)
        return report

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        failed = [t for t in self.tests if t["verdict"] != "passed"]
        if exitstatus == 1 and failed and all(t["verdict"] == "not_steady" for t in failed):
            session.exitstatus = EXIT_NOT_STEADY

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        not_steady = [t for t in self.tests if t["verdict"] == "not_steady"]
        if not self.rows and not self.runs and not not_steady:
            return
        tr = terminalreporter
        if self.rows or not_steady:
            self._slo_table(tr, not_steady)
        path = self.write(Path(self.config.getoption("azchaos_report")))
        tr.write_line(f"azchaos report: {path}")

    def _slo_table(self, tr: Any, not_steady: list[dict[str, Any]]) -> None:
        tr.write_sep("=", "azchaos SLOs")
        width = max(len(nodeid) for nodeid in [*(n for n, _ in self.rows), *(t["test"] for t in not_steady)])
        slo_width = max([len(r.name) for _, r in self.rows] + [9])
        tr.write_line(f"{'test':<{width}}  {'SLO':<{slo_width}} {'value':>9} {'limit':>9}  verdict")
        for test in not_steady:  # no SLO verdict: the fault never hit a steady stack
            tr.write_line(f"{test['test']:<{width}}  {'(no SLOs)':<{slo_width}} {'':>9} {'':>9}  "
                          f"NOT STEADY: stack not steady: {test['reason']}", yellow=True)
        for nodeid, r in self.rows:
            verdict = "PASS" if r.passed else "FAIL"
            value, limit = show(r, r.value, r.limit), show(r, r.limit)
            tr.write_line(f"{nodeid:<{width}}  {r.name:<{slo_width}} {value:>9} {limit:>9}  {verdict}",
                          green=r.passed, red=not r.passed)

    def write(self, folder: Path) -> Path:
        """Write report.json and report.html into ``folder``; return the HTML path."""
        folder.mkdir(parents=True, exist_ok=True)
        data = {
            "slos": [dict(test=nodeid, **_json_safe(r.__dict__), shown=show(r, r.value, r.limit),
                          shown_limit=show(r, r.limit)) for nodeid, r in self.rows],
            "tests": self.tests,
            "events": self.events,
            "runs": self.runs,
        }
        (folder / "report.json").write_text(json.dumps(data, indent=2))
        page = folder / "report.html"
        page.write_text(_html(data))
        return page.resolve()


def _json_safe(fields: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN or infinity: write them as null (the ``shown`` text says n/a or never)."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in fields.items()}


def show(result: SLOResult, value: float, against: float | None = None) -> str:
    """Format an SLO's value or limit for people: durations in ms or s, fractions as percentages;
    with ``against`` (the limit), precise enough that a value that is not the limit looks different."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "never"
    if result.unit == "s":
        scale, unit, digits = (1000, "ms", 0) if value < 1 else (1, "s", 1)
        return f"{value * scale:.{digits + distinct_digits(value * scale, _scaled(against, scale), digits)}f}{unit}"
    if result.name == "availability":
        return f"{value:.{2 + distinct_digits(value * 100, _scaled(against, 100), 2)}%}"
    digits = distinct_digits(value, against, 2)
    return f"{value:g}" if not digits else f"{value:.{2 + digits}f}"


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


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
{_runs_html(data["runs"])}"""


def _runs_html(runs: dict[str, dict[str, Any]]) -> str:
    """One section per test: its traffic and events as a chart, and the events as a table."""
    sections = []
    for test, run in runs.items():
        rows = "".join(f"<tr><td>{e['t']:+.1f} s</td><td>{html.escape(e['kind'])}</td>"
                       f"<td>{html.escape(e['subject'])}</td><td>{html.escape(e['detail'])}</td></tr>"
                       for e in run["events"])
        sections.append(f"<h3>{html.escape(test)}</h3>{chart.svg(run)}<p class=legend>green: ok per second, "
                        f"red: not ok, line: p99 latency; dashed: events (hover for details)</p>"
                        f"<table><tr><th>time<th>event<th>subject<th>detail</tr>{rows}</table>")
    return "<h2>Runs</h2>" + "".join(sections) if sections else ""
