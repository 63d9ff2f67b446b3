"""What people look at: the terminal summary of SLOs, JUnit XML properties, and the report folder
(report.json, report.html, charts/). Allure has its own plugin (allure_report.py).

``write_report(data, folder)`` and ``render_html(data)`` are public: a game day writes its report
with them, from data built by ``report_data.report()``.
"""

from __future__ import annotations

import json
import math
import time
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

#: The key of what an xdist worker recorded, in its ``workeroutput`` (JSON: entries, environments,
#: events, and every test's verdict), for the controller to report the whole run once.
WORKER_OUTPUT = "azchaos_report"
# Set on a report of an error that came after a test's protocol (plugin.py: its stack's removal).
AFTER_PROTOCOL = "azchaos_after_protocol"

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
        self.started: dict[str, float] = {}  # test -> when its first attempt started (wall clock)
        self.rows: list[tuple[Attempt, SLOResult]] = []
        self.events: list[dict[str, Any]] = []  # every inject and heal of the run
        self.recorded: dict[Attempt, dict[str, Any]] = {}  # its entry without verdict and SLOs
        self.tests: list[tuple[Attempt, dict[str, Any]]] = []  # each verdict: passed, slo_broken, not_steady, failed
        self.environments: dict[str, dict[str, Any]] = {}  # run id -> facts at start, in the order they started
        self.ran_on: dict[Attempt, str] = {}  # run id of its stack
        self.workers: list[dict[str, Any]] = []  # with pytest-xdist: what each worker recorded
        self.failures: list[tuple[str, str]] = []  # each failed phase of the run: (test, "setup"/"call"/"teardown")
        self.session: pytest.Session | None = None
        self.selected = 0  # tests selected to run (after -k, -m and deselection)
        self.stopped: str | None = None  # why the run ended before its last test (Ctrl-C, an engine gone silent)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.selected = len(session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """pytest-xdist's controller collects nothing itself: each worker tells it what it collected."""
        self.selected = max(self.selected, len(ids))

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Ctrl-C or SIGTERM, ``pytest.exit``, or a stop of the run (pytest's Interrupted: what set
        ``session.shouldstop`` says why, e.g. the plugin for an engine gone silent; xdist's -x too)."""
        error = excinfo.value
        if isinstance(error, pytest.exit.Exception):
            self.stopped = f"pytest.exit: {error.msg}"
        elif type(error) is KeyboardInterrupt:
            self.stopped = "interrupted (Ctrl-C or SIGTERM)"
        else:
            self.stopped = _first_line(str(error)) or type(error).__name__

    def _stop_reason(self) -> str | None:
        """Why the run ended before its last test, or None; -x and --maxfail in one process say it here."""
        if self.stopped:
            return self.stopped
        failed = self.session.shouldfail if self.session is not None else False
        return failed if isinstance(failed, str) and failed else None

    def _attempt(self, item: pytest.Item) -> Attempt:
        return self._attempt_of(item.nodeid)

    def _attempt_of(self, nodeid: str) -> Attempt:
        return nodeid, self.attempts.get(nodeid, 1)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A test starts an attempt; a rerun's JUnit properties are its own, not added to the last's."""
        self.attempts[item.nodeid] = self.attempts.get(item.nodeid, 0) + 1
        self.started.setdefault(item.nodeid, time.time())
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
            if report.failed:
                self._phase_failed(item, call, report)
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
            verdict["reason"] = _error_line(excinfo)
        xfail = getattr(report, "wasxfail", None)  # pytest's xfail marker; what happened is the verdict
        if xfail is not None:
            verdict["xfail"] = xfail
        elif report.failed and verdict["verdict"] == "passed":  # failed by pytest after the body: XPASS(strict)
            verdict.update(verdict="failed", reason=_first_line(str(report.longrepr)))
        if attempt in self.recorded or self._slos(attempt) or verdict["verdict"] == "not_steady":
            item.user_properties.append(("azchaos.verdict", verdict["verdict"]))  # the teardown report carries it
        self.tests.append((attempt, verdict))
        return report

    def _phase_failed(self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
        """An error in a test's setup or teardown (a fixture's, or its stack's start) fails the attempt, as
        pytest says: a chaos test is in the report with why, not missing, or passed, or an earlier verdict.
        After a broken SLO or "not steady" the verdict stays, and the teardown's error is kept beside it."""
        attempt = self._attempt(item)
        error = _error_line(call.excinfo) if call.excinfo else ""
        if call.when == "setup":  # no call follows: the attempt's verdict is this
            failed = {"test": item.nodeid, "verdict": "failed", "reason": f"error in setup: {error}"}
            self.tests.append((attempt, failed))
            if "azchaos" in getattr(item, "fixturenames", ()):
                self.recorded.setdefault(attempt, report_data.test_entry(item.nodeid, verdict="failed"))
                item.user_properties.append(("azchaos.verdict", "failed"))  # the teardown report carries it
            return
        if self._teardown_failed(attempt, error):
            for properties in (item.user_properties, report.user_properties):  # this report carries them
                properties[:] = [("azchaos.verdict", "failed") if p == ("azchaos.verdict", "passed") else p
                                 for p in properties]

    def _teardown_failed(self, attempt: Attempt, error: str) -> bool:
        """Fail the attempt's verdict for an error in teardown; True if it was passed until now."""
        verdict = next((v for key, v in reversed(self.tests) if key == attempt), None)
        if verdict is None:
            return False
        if verdict["verdict"] != "passed":  # a broken SLO or "not steady" says more; the error comes with it
            verdict["teardown_error"] = error
            return False
        verdict.update(verdict="failed", reason=f"error in teardown: {error}")
        return True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Every failed phase of the run (with xdist, the controller gets the workers' too): the exit
        status says "not steady" only when nothing else failed. An error after a test's protocol
        (its stack could not be removed: plugin.py) fails its verdict as one in its teardown does."""
        if report.failed:
            self.failures.append((report.nodeid, report.when))
            if getattr(report, AFTER_PROTOCOL, False) and report.nodeid in self.attempts:
                self._teardown_failed(self._attempt_of(report.nodeid), _first_line(str(report.longrepr)))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """pytest-xdist's controller: a worker ended; what it recorded comes with it (worker_output)."""
        found = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
        if found:
            self.workers.append(json.loads(found))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput"):  # an xdist worker: its controller reports for the run
            output = self.config.workeroutput  # type: ignore[attr-defined]  # set by xdist on its workers
            output[WORKER_OUTPUT] = json.dumps(self._worker_output())
            return
        data = self.data()
        if data["environments"]:  # the facts are collected once, here; other reports (Allure) get them
            self.config.hook.pytest_azchaos_environments_used(environments=data["environments"])
        # A test's verdicts in the run: one per process that ran it (xdist's --dist each runs every
        # test on every worker). The run is "not steady" only where no verdict of a failed test is a
        # failure of its own: keyed by test alone, a worker's not-steady verdict hid another's
        # broken SLO when it happened to end last.
        finals: dict[str, set[str]] = {}
        for verdict in self._finals():
            finals.setdefault(verdict["test"], set()).add(verdict["verdict"])
        if exitstatus == 1 and self.failures and all(
                when == "call" and "not_steady" in finals.get(test, set())
                and finals[test] <= {"not_steady", "passed"} for test, when in self.failures):
            session.exitstatus = EXIT_NOT_STEADY

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput"):
            return
        data = self.data()
        if not data["tests"]:
            return
        if any(a["slos"] or a["verdict"] == "not_steady" for _, a in _attempts(data)):
            _slo_table(terminalreporter, data)
        path = write_run(data, Path(self.config.getoption("azchaos_report")))
        terminalreporter.write_line(f"azchaos report: {path}")

    def _slos(self, key: Attempt) -> list[SLOResult]:
        return [r for k, r in self.rows if k == key]

    def _verdicts(self) -> list[dict[str, Any]]:
        """Each test's verdict, its last attempt's: of every test this process ran, not only chaos tests."""
        return list({key[0]: verdict for key, verdict in self.tests}.values())

    def _finals(self) -> list[dict[str, Any]]:
        """Each test's verdict in the whole run: this process's and every xdist worker's."""
        return self._verdicts() + [v for worker in self.workers for v in worker["verdicts"]]

    def _entries(self) -> list[dict[str, Any]]:
        """Every test of this process that used azchaos (or has SLOs), in the order they ran; a test
        run more than once is its last attempt, with the earlier ones under ``reruns``."""
        attempts: dict[str, list[dict[str, Any]]] = {}
        for key, verdict in self.tests:
            if key not in self.recorded and not self._slos(key) and verdict["verdict"] != "not_steady":
                continue  # not a chaos test
            entry = dict(self.recorded.get(key) or report_data.test_entry(key[0], verdict="passed"))
            entry.update(verdict, slos=[report_data.slo_entry(r) for r in self._slos(key)])
            if key in self.ran_on:
                entry["run_id"] = self.ran_on[key]
            attempts.setdefault(key[0], []).append(entry)
        return [{**each[-1], "reruns": each[:-1]} if len(each) > 1 else each[-1] for each in attempts.values()]

    def _worker_output(self) -> dict[str, Any]:
        tests = self._entries()
        return {"tests": tests, "started": [self.started.get(t["test"], 0.0) for t in tests],
                "environments": list(self.environments.values()), "events": self.events, "verdicts": self._verdicts()}

    def data(self) -> dict[str, Any]:
        """The run's report data: every test of this process and of each xdist worker, in the order they
        started (xdist's workers run side by side), and their faults' events in time order."""
        runs = [self._worker_output(), *self.workers]
        tests = [(start, t) for run in runs for start, t in zip(run["started"], run["tests"], strict=True)]
        tests.sort(key=lambda each: each[0])  # stable: a process's own tests stay in run order
        # A run stopped after its last test had run (xdist's -x, as the other worker ends) stopped nothing.
        not_run = max(0, self.selected - len({verdict["test"] for verdict in self._finals()}))
        stopped = self._stop_reason() if not_run or not self.selected else None
        return report_data.report([t for _, t in tests],
                                  environments=[e for run in runs for e in run["environments"]],
                                  events=sorted((e for run in runs for e in run["events"]), key=lambda e: e["wall"]),
                                  stopped=stopped, not_run=not_run if stopped else 0)


def _attempts(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Each attempt of each test of a report, named as the SLO table shows it: the test, and which
    attempt where it ran more than once ("t.py::test_x (attempt 1 of 2)")."""
    found = []
    for test in data["tests"]:
        every = [*test.get("reruns", []), test]
        found += [(test["test"] + (f" (attempt {n} of {len(every)})" if len(every) > 1 else "")
                   + (" (xfail)" if "xfail" in attempt else ""), attempt) for n, attempt in enumerate(every, 1)]
    return found


def _slo_table(tr: Any, data: dict[str, Any]) -> None:
    """The terminal's table of every SLO verdict of the run, and of each test stopped as not steady."""
    attempts = _attempts(data)
    not_steady = [(name, a) for name, a in attempts if a["verdict"] == "not_steady"]
    rows = [(name, slo) for name, a in attempts for slo in a["slos"]]
    tr.write_sep("=", "azchaos SLOs")
    width = max(len(name) for name, _ in [*rows, *not_steady])
    slo_width = max([len(slo["name"]) for _, slo in rows] + [9])
    tr.write_line(f"{'test':<{width}}  {'SLO':<{slo_width}} {'value':>9} {'limit':>9}  verdict")
    for name, test in not_steady:  # no SLO verdict: the fault never hit a steady stack
        tr.write_line(f"{name:<{width}}  {'(no SLOs)':<{slo_width}} {'':>9} {'':>9}  "
                      f"NOT STEADY: stack not steady: {test.get('reason', '')}", yellow=True)
    for name, slo in rows:
        tr.write_line(f"{name:<{width}}  {slo['name']:<{slo_width}} {slo['shown']:>9} {slo['shown_limit']:>9}  "
                      f"{slo['verdict'].upper()}", green=slo["passed"], red=not slo["passed"])


def junit_properties(results: list[SLOResult]) -> list[tuple[str, str]]:
    """The JUnit XML properties of SLO verdicts: value, limit and verdict (and the message of a failure)."""
    found = []
    for r in results:
        prefix = f"azchaos.slo.{r.name}"
        found += [(f"{prefix}.value", _number(r.value)), (f"{prefix}.limit", _number(r.limit)),
                  (f"{prefix}.verdict", "pass" if r.passed else "fail")]
        if r.at_least:  # the value must reach the limit, not stay within it
            found.append((f"{prefix}.at_least", "true"))
        if not r.passed:
            found.append((f"{prefix}.message", r.message))
    return found


def _number(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return f"{value:g}" if math.isinf(value) or value == int(value) else repr(round(value, 6))


def _error_line(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """An error's first line: "AssertionError: ...", or for ``pytest.fail`` only its message (the
    plugin's own errors, "azchaos: the stack could not start: ...", come that way)."""
    text = excinfo.exconly()
    return _first_line(text.removeprefix("Failed: ") if excinfo.errisinstance(pytest.fail.Exception) else text)


def _first_line(text: str, most: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= most else line[:most - 3] + "..."
