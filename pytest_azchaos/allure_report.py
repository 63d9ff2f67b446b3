"""Allure for chaos tests, through allure-pytest: a plugin on our hooks (hookspecs.py).

Registered only when pytest runs with ``--alluredir`` (plugin.py), so it costs nothing otherwise.
For each test that uses the ``azchaos`` fixture:

- every steady-state check, inject and heal is an Allure step, with the fault's fields, its
  time from the test's first fault and its wall-clock time as parameters (a check that found the
  stack not steady is a failed step naming the reasons);
- labels: ``environment``, one ``az`` per AZ a fault hit, one ``fault`` per fault type (also as
  tags, which Allure's filters and the report's tree show);
- parameters: one ``SLO <name>`` per verdict ("PASS 12 ms <= 500 ms"), excluded from the test's
  history id, so that changing a value does not make a new test;
- attachments: the timeline chart (SVG, and PNG when matplotlib is installed), the SLO table
  (HTML), the history (CSV, one operation a line) and the timeline's events (JSON).

At the end of the run, ``environment.properties`` in the results folder (Allure's environment,
shown by Allure 3 as the report's metadata) gets the facts of every region the run used: per
environment file its AZs, run id, path and each service's image ("default AZs = a, b, c"), and
the plugin's version. A user's own entries in that file are kept.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import os
import tempfile
import uuid
from collections.abc import Generator, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import allure
import pytest
from allure_commons import plugin_manager

from . import __version__, chart
from .checks import SLOResult, relation
from .errors import AzChaosError, NotSteady
from .faults.registry import default_registry
from .history import History, Operation
from .report_data import show
from .timeline import HEAL, INJECT, NOT_STEADY, STEADY, Event, Timeline

if TYPE_CHECKING:
    from .experiment import Experiment
    from .faults import Fault

FIELDS = [f.name for f in dataclasses.fields(Operation)]


def enabled(config: pytest.Config) -> bool:
    """Whether allure-pytest writes results in this run (``--alluredir``)."""
    return bool(getattr(config.option, "allure_report_dir", None))


class AllureSteps:
    """Turn a chaos test's faults, steady-state checks and verdicts into Allure steps, labels,
    parameters and attachments."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._experiment: Experiment | None = None
        self._origin: float | None = None  # monotonic time of the test's first fault
        self._shown: set[Event] = set()  # steady-state events already shown as steps
        self._labels: set[tuple[str, str]] = set()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        experiment = getattr(item, "funcargs", {}).get("azchaos")
        self._experiment, self._origin, self._shown, self._labels = experiment, None, set(), set()
        try:
            return (yield)
        finally:  # after plugin.py's wrapper: traffic stopped, faults healed, SLOs checked
            if experiment is not None:
                self._not_steady_steps(experiment.timeline)
                self._label("environment", experiment.stack.topology.name)
                attach_run(item.nodeid, experiment.history, experiment.timeline)
            self._experiment = None

    def pytest_azchaos_environments_used(self, environments: list[dict[str, Any]]) -> None:
        """The regions of the run into Allure's Environment section."""
        write_environment(Path(self.config.option.allure_report_dir), environments)

    def pytest_azchaos_fault_injected(self, fault: Fault, event: Event) -> None:
        if self._origin is None:
            self._origin = event.mono
        self._steady_step(fault, event)
        step(f"inject {fault.subject}", self._params(fault, event))
        for az in azs_hit(fault):
            self._label("az", az)
        for name in fault_types(fault):
            self._label("fault", name)

    def pytest_azchaos_fault_healed(self, fault: Fault, event: Event) -> None:
        step(f"heal {fault.subject}", self._params(fault, event))

    def pytest_azchaos_slo_evaluated(self, item: pytest.Item, results: list[SLOResult]) -> None:
        for result in results:
            allure.dynamic.parameter(f"SLO {result.name}", verdict_text(result), excluded=True)
        allure.attach(slo_table(results), name="azchaos SLO table", attachment_type=allure.attachment_type.HTML)

    def _params(self, fault: Fault, event: Event) -> dict[str, str]:
        params = fault_params(fault)
        params["at"] = f"{event.mono - (self._origin or event.mono):+.1f} s from the first fault"
        params["wall clock"] = _wall(event.wall)
        if event.detail:
            params["detail"] = event.detail
        return params

    def _steady_step(self, fault: Fault, inject: Event) -> None:
        """The check that ran right before ``inject``: it waited (a ``steady`` event) or passed at once."""
        experiment = self._experiment
        if experiment is None or not experiment.nemesis.steady:
            return
        before = [e for e in experiment.timeline.events if e.mono <= inject.mono and e not in self._shown]
        waited = [e for e in before if e.kind == STEADY and e.subject == fault.subject]
        self._shown.update(before)
        detail = waited[-1].detail if waited else "at once"
        step(f"steady-state check before {fault.subject}", {"verdict": "steady", "waited": detail})

    def _not_steady_steps(self, timeline: Timeline) -> None:
        for event in timeline.events:
            if event.kind == NOT_STEADY and event not in self._shown:
                self._shown.add(event)
                step(f"steady-state check before {event.subject}", {"verdict": "not steady", "why": event.detail},
                     error=NotSteady(event.detail.split("; "), event.detail))

    def _label(self, name: str, value: str) -> None:
        if (name, value) not in self._labels:
            self._labels.add((name, value))
            plugin_manager.hook.add_label(label_type=name, labels=[value])  # allure.dynamic.label, typed
            plugin_manager.hook.add_label(label_type="tag", labels=[f"{name}:{value}"])


def step(title: str, params: dict[str, str], *, error: BaseException | None = None) -> None:
    """Record a step that already happened (a fault's inject or heal is an event, not a block of code)."""
    step_id = str(uuid.uuid4())
    plugin_manager.hook.start_step(uuid=step_id, title=title, params=params)
    plugin_manager.hook.stop_step(uuid=step_id, title=title, exc_type=None if error is None else type(error),
                                  exc_val=error, exc_tb=None)


def fault_params(fault: Any) -> dict[str, str]:
    """A fault's fields as step parameters, e.g. {"az": "a", "mode": "power"}."""
    if not dataclasses.is_dataclass(fault):
        return {"fault": str(getattr(fault, "subject", fault))}
    params = {}
    for field in dataclasses.fields(fault):
        value = getattr(fault, field.name)
        if field.name == "faults":  # Combined
            value = " + ".join(f.subject for f in value)
        elif field.name == "attributes":
            value = ", ".join(f"{k}={v}" for k, v in value)
        params[field.name] = str(value)
    return params


def azs_hit(fault: Any) -> list[str]:
    """The AZs a fault acted on: its AZ, its link's AZ, or the AZs of the members it hit."""
    found: list[str] = []
    for part in getattr(fault, "faults", None) or [fault]:
        if getattr(part, "az", None):
            found.append(part.az)
        elif getattr(part, "link", None):
            found.append(part.link.split("/", 1)[0])
        found += [m.az for m in getattr(part, "_hit", None) or []]
    return sorted(set(found) - {"regional"})


def fault_types(fault: Any) -> list[str]:
    """The fault types by their registered names, with their mode: "outage(power)", "toxic(latency)"."""
    registry = default_registry(plugins=False)
    found = []
    for part in getattr(fault, "faults", None) or [fault]:
        try:
            name = registry.record(part)["type"]
        except AzChaosError:  # a type a plugin added: its class name
            name = type(part).__name__
        kind = getattr(part, "mode", None) or getattr(part, "kind", None) or getattr(part, "action", None)
        found.append(f"{name}({kind})" if kind else name)
    return sorted(set(found))


def verdict_text(result: SLOResult) -> str:
    """E.g. "PASS 12 ms <= 500 ms", the value shown as the report shows it."""
    sign = relation(result.passed, result.at_least)
    return f"{'PASS' if result.passed else 'FAIL'} {show(result, result.value, result.limit)} {sign} " \
           f"{show(result, result.limit)}"


def slo_table(results: Iterable[SLOResult]) -> str:
    rows = "".join(f"<tr><td>{html.escape(r.name)}</td><td>{'PASS' if r.passed else 'FAIL'}</td>"
                   f"<td>{html.escape(verdict_text(r))}</td><td>{html.escape(r.message)}</td></tr>" for r in results)
    return (f"<table border=1 cellpadding=4><tr><th>SLO</th><th>verdict</th><th>value</th><th>message</th></tr>"
            f"{rows}</table>")


def history_csv(history: History) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    for op in history.operations:
        writer.writerow([getattr(op, name) for name in FIELDS])
    return out.getvalue()


def events_json(timeline: Timeline) -> str:
    return json.dumps([e.to_dict() for e in timeline.events], indent=2)


def attach_run(name: str, history: History, timeline: Timeline) -> None:
    """Attach a test's chart, history and events to its Allure result."""
    if not len(history) and not [e for e in timeline.events if e.kind in (INJECT, HEAL)]:
        return
    data = chart.series(history, timeline)
    if data is not None:
        allure.attach(chart.svg(data, title=name), name="azchaos timeline chart (SVG)",
                      attachment_type=allure.attachment_type.SVG)
        png = chart.png(data, title=name)
        if png:
            allure.attach(png, name="azchaos timeline chart", attachment_type=allure.attachment_type.PNG)
    allure.attach(history_csv(history), name="azchaos history", attachment_type=allure.attachment_type.CSV)
    allure.attach(events_json(timeline), name="azchaos events", attachment_type=allure.attachment_type.JSON)


ENVIRONMENT_FILE = "environment.properties"
OURS = "# pytest-azchaos: the regions of the last run (the lines below are rewritten at the end of each run)"


def environment_properties(regions: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """Allure's environment entries for the regions a run used (``report_data.environment_facts``),
    each under its environment file's name: ``default AZs = a, b, c``. Allure 3 shows them as the
    report's metadata and cuts a key at about 16 characters: the region's name comes first."""
    found = [("pytest-azchaos", __version__)]
    named: set[str] = set()
    for region in regions:
        stem = Path(str(region.get("environment", "region"))).stem
        name, n = stem, 1
        while name in named:  # two files of one name from two folders
            n += 1
            name = f"{stem}-{n}"
        named.add(name)
        found += [(f"{name} AZs", ", ".join(region.get("azs", []))),
                  (f"{name} run", str(region.get("run_id", "?"))),
                  (f"{name} file", str(region.get("environment", "?")))]
        for what, image in region.get("images", {}).items():
            service, _, role = str(what).partition("/")
            found.append((f"{name} {service if role in ('', service) else what}", str(image)))
    return found


def write_environment(folder: Path, regions: Sequence[dict[str, Any]]) -> Path:
    """Write the regions into ``folder``/environment.properties below the line ``OURS``, keeping what
    is above it (a user's own entries), and return its path. The file is replaced whole (written
    beside, then renamed)."""
    path = folder / ENVIRONMENT_FILE
    try:
        before = path.read_text(encoding="latin-1").splitlines()
    except FileNotFoundError:
        before = []
    kept = before[:before.index(OURS)] if OURS in before else before
    lines = [*kept, OURS, *(f"{_escape(key, key=True)} = {_escape(value)}"
                            for key, value in environment_properties(regions))]
    folder.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".environment-", dir=folder)
    with os.fdopen(fd, "w", encoding="latin-1") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(temporary, path)
    return path


def _escape(text: str, *, key: bool = False) -> str:
    """Java .properties escaping (what Allure reads): backslashes, line breaks, a leading space, in
    keys also the separators and comment marks; anything beyond ASCII as \\uXXXX. Hand-written: the
    standard library has no .properties writer, and these few rules are the whole format."""
    out = []
    for i, char in enumerate(text):
        if char == "\\":
            out.append("\\\\")
        elif char in "\n\r\t\f":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}[char])
        elif (key and char in " :=#!") or (char == " " and i == 0):
            out.append("\\" + char)
        elif ord(char) > 126 or ord(char) < 32:
            out.extend(f"\\u{unit:04x}" for unit in _utf16(char))
        else:
            out.append(char)
    return "".join(out)


def _utf16(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def _wall(wall: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall)) + f".{int(wall * 1000) % 1000:03d}"
