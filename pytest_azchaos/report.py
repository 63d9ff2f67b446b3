"""What people look at: the terminal summary of SLOs, JUnit XML properties, and the report folder
(report.json, report.html, charts/). Allure has its own plugin (allure_report.py).

``write_report(data, folder)`` and ``render_html(data)`` are public: a game day writes its report
with them, from data built by ``report_data.report()``.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import report_data
from .checks import SLOResult
from .errors import NotSteady
from .faults import Fault
from .report_data import show
from .report_files import write_report, write_run
from .report_html import render_html
from .timeline import Event

if TYPE_CHECKING:
    from .experiment import Experiment
    from .stack import Stack

Attempt = tuple[str, int]  # a test's node id, and which time it ran (1, or more when a plugin reruns it)

__all__ = ["EXIT_NOT_STEADY", "Reporter", "junit_properties", "render_html", "show", "write_report"]

#: pytest's exit status when every failed test failed because the stack was not steady (no SLO was
#: broken): the run proves nothing either way, which a CI gate must tell apart from a broken SLO (1).
EXIT_NOT_STEADY = 6


class Reporter:
    """A plugin on our own hooks: it collects SLO verdicts, faults and each test's recording, then reports."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        # A rerun plugin (pytest-rerunfailures) runs a test again: what is recorded is per attempt, and
        # a test's verdict is its last attempt's, as pytest's outcome is; the earlier ones are kept too.
        self.attempts: dict[str, int] = {}  # test -> how many times it started
        self.rows: list[tuple[Attempt, SLOResult]] = []
        self.events: list[dict[str, Any]] = []  # every inject and heal of the run
        self.recorded: dict[Attempt, dict[str, Any]] = {}  # its entry without verdict and SLOs
        self.tests: list[tuple[Attempt, dict[str, Any]]] = []  # each verdict: passed, slo_broken, not_steady, failed
        self.environments: dict[str, dict[str, Any]] = {}  # run id -> facts at start, in the order they started
        self.ran_on: dict[Attempt, str] = {}  # run id of its stack

    def _attempt(self, item: pytest.Item) -> Attempt:
        return item.nodeid, self.attempts.get(item.nodeid, 1)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A test starts an attempt; a rerun's JUnit properties are its own, not added to the last's."""
        self.attempts[item.nodeid] = self.attempts.get(item.nodeid, 0) + 1
        item.user_properties[:] = [p for p in item.user_properties if not str(p[0]).startswith("azchaos.")]

    def pytest_azchaos_stack_ready(self, stack: Stack) -> None:
        self.environments[stack.run_id] = report_data.environment_facts(stack)

    def pytest_azchaos_fault_injected(self, fault: Fault, event: Event) -> None:
        self.events.append(event.to_dict())

    def pytest_azchaos_fault_healed(self, fault: Fault, event: Event) -> None:
        self.events.append(event.to_dict())

    def pytest_azchaos_experiment_finished(self, item: pytest.Item, experiment: Experiment) -> None:
        run_id = experiment.stack.run_id
        if run_id not in self.environments:  # attached to a running stack (--azchaos-reuse): no stack_ready
            self.environments[run_id] = report_data.environment_facts(experiment.stack)
        self.ran_on[self._attempt(item)] = run_id
        self.recorded[self._attempt(item)] = report_data.test_entry(
            item.nodeid, verdict="passed", history=experiment.history, timeline=experiment.timeline)

    def pytest_azchaos_slo_evaluated(self, item: pytest.Item, results: list[SLOResult]) -> None:
        self.rows.extend((self._attempt(item), r) for r in results)
        item.user_properties.extend(junit_properties(results))  # Allure has its own plugin: allure_report.py

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when != "call":
            return report
        excinfo, attempt = call.excinfo, self._attempt(item)
        verdict: dict[str, Any] = {"test": item.nodeid, "verdict": "passed" if excinfo is None else "failed"}
        if excinfo is not None and isinstance(excinfo.value, NotSteady):
            error = excinfo.value
            verdict.update(verdict="not_steady", reason=str(error).removeprefix("stack not steady: "),
                           reasons=error.reasons)
            report.longrepr = f"{item.nodeid}: {error}"  # our own traceback would only hide the reason
        elif not all(r.passed for r in self._slos(attempt)):
            verdict["verdict"] = "slo_broken"
        elif excinfo is not None:  # the test's own error (an assert of its body): its first line says why
            verdict["reason"] = _first_line(excinfo.exconly())
        if attempt in self.recorded or self._slos(attempt) or verdict["verdict"] == "not_steady":
            item.user_properties.append(("azchaos.verdict", verdict["verdict"]))  # the teardown report carries it
        self.tests.append((attempt, verdict))
        return report

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.environments:  # the facts are collected once, here; other reports (Allure) get them
            self.config.hook.pytest_azchaos_environments_used(environments=list(self.environments.values()))
        failed = [t for t in self._finals() if t["verdict"] != "passed"]
        if exitstatus == 1 and failed and all(t["verdict"] == "not_steady" for t in failed):
            session.exitstatus = EXIT_NOT_STEADY

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        not_steady = [(key, t) for key, t in self.tests if t["verdict"] == "not_steady"]
        if not self.rows and not self.recorded and not not_steady:
            return
        tr = terminalreporter
        if self.rows or not_steady:
            self._slo_table(tr, not_steady)
        path = self.write(Path(self.config.getoption("azchaos_report")))
        tr.write_line(f"azchaos report: {path}")

    def _slo_table(self, tr: Any, not_steady: list[tuple[Attempt, dict[str, Any]]]) -> None:
        tr.write_sep("=", "azchaos SLOs")
        width = max(len(self._label(key)) for key in [*(k for k, _ in self.rows), *(k for k, _ in not_steady)])
        slo_width = max([len(r.name) for _, r in self.rows] + [9])
        tr.write_line(f"{'test':<{width}}  {'SLO':<{slo_width}} {'value':>9} {'limit':>9}  verdict")
        for key, test in not_steady:  # no SLO verdict: the fault never hit a steady stack
            tr.write_line(f"{self._label(key):<{width}}  {'(no SLOs)':<{slo_width}} {'':>9} {'':>9}  "
                          f"NOT STEADY: stack not steady: {test['reason']}", yellow=True)
        for key, r in self.rows:
            verdict = "PASS" if r.passed else "FAIL"
            value, limit = show(r, r.value, r.limit), show(r, r.limit)
            tr.write_line(f"{self._label(key):<{width}}  {r.name:<{slo_width}} {value:>9} {limit:>9}  {verdict}",
                          green=r.passed, red=not r.passed)

    def _label(self, key: Attempt) -> str:
        """The test, and which attempt if it ran more than once: "t.py::test_x (attempt 1 of 2)"."""
        nodeid, attempt = key
        runs = self.attempts.get(nodeid, 1)
        return nodeid if runs == 1 else f"{nodeid} (attempt {attempt} of {runs})"

    def _slos(self, key: Attempt) -> list[SLOResult]:
        return [r for k, r in self.rows if k == key]

    def _finals(self) -> list[dict[str, Any]]:
        """Each test's verdict: its last attempt's."""
        return list({key[0]: verdict for key, verdict in self.tests}.values())

    def data(self) -> dict[str, Any]:
        """The run's report data: every test that used azchaos (or has SLOs), in the order they ran; a
        test run more than once is its last attempt, with the earlier ones under ``reruns``."""
        attempts: dict[str, list[dict[str, Any]]] = {}
        for key, verdict in self.tests:
            if key not in self.recorded and not self._slos(key) and verdict["verdict"] != "not_steady":
                continue  # not a chaos test
            entry = dict(self.recorded.get(key) or report_data.test_entry(key[0], verdict="passed"))
            entry.update(verdict, slos=[report_data.slo_entry(r) for r in self._slos(key)])
            if key in self.ran_on:
                entry["run_id"] = self.ran_on[key]
            attempts.setdefault(key[0], []).append(entry)
        entries = [{**each[-1], "reruns": each[:-1]} if len(each) > 1 else each[-1] for each in attempts.values()]
        return report_data.report(entries, environments=list(self.environments.values()), events=self.events)

    def write(self, folder: Path) -> Path:
        """Write the run's report into ``folder`` (its own under runs/, and as the latest); return the HTML path."""
        return write_run(self.data(), folder)


def junit_properties(results: list[SLOResult]) -> list[tuple[str, str]]:
    """The JUnit XML properties of SLO verdicts: value, limit and verdict (and the message of a failure)."""
    found = []
    for r in results:
        prefix = f"azchaos.slo.{r.name}"
        found += [(f"{prefix}.value", _number(r.value)), (f"{prefix}.limit", _number(r.limit)),
                  (f"{prefix}.verdict", "pass" if r.passed else "fail")]
        if not r.passed:
            found.append((f"{prefix}.message", r.message))
    return found


def _number(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return f"{value:g}" if math.isinf(value) or value == int(value) else repr(round(value, 6))


def _first_line(text: str, most: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= most else line[:most - 3] + "..."
