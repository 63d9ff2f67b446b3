"""``azchaos report``: re-render a report.json, compare two runs, and bad input as one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_azchaos import report_data
from pytest_azchaos.checks import SLOResult
from pytest_azchaos.cli import main
from pytest_azchaos.cli_report import compare

FAILOVER = "t.py::test_failover"


def run_report(path: Path, *slos: SLOResult, test: str = FAILOVER) -> Path:
    entry = report_data.test_entry(test, verdict="passed" if all(s.passed for s in slos) else "slo_broken",
                                   results=list(slos))
    path.write_text(json.dumps(report_data.report([entry])))
    return path


def failover(seconds: float, limit: float = 60) -> SLOResult:
    return SLOResult("failover_time", seconds, limit, seconds <= limit, f"failover_time = {seconds} s", "s")


def test_re_render_writes_the_html_of_a_report_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = run_report(tmp_path / "report.json", failover(41.25))
    assert main(["report", str(source), "-o", str(tmp_path / "again.html")]) == 0
    page = (tmp_path / "again.html").read_text()
    assert "data-test='t.py::test_failover'" in page and "41.2s" in page
    assert capsys.readouterr().out.strip() == str(tmp_path / "again.html")
    assert main(["report", str(source)]) == 0  # default: beside the JSON
    assert (tmp_path / "report.html").is_file()


def test_compare_shows_how_each_slo_moved_and_what_only_one_run_has(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    before = run_report(tmp_path / "a.json", failover(80.0), SLOResult("lost_writes", 0, 0, True, "ok"))
    after = run_report(tmp_path / "b.json", failover(40.5), SLOResult("p99", 0.2, 0.5, True, "ok", "s"))
    assert main(["report", "--compare", str(before), str(after)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [f"before: {before}", f"after:  {after}"]
    assert lines[2].split() == ["test", "SLO", "before", "after", "change", "verdict"]
    assert lines[3].split() == [FAILOVER, "failover_time", "80.0s", "40.5s", "-39.500", "s", "(-49%)", "FAIL", "->",
                                "PASS"]
    assert lines[4:] == [f"only before: {FAILOVER} lost_writes = 0", f"only after:  {FAILOVER} p99 = 200ms"]


def slo(value: float | None, shown: str, unit: str = "") -> dict[str, Any]:
    return {"value": value, "shown": shown, "unit": unit, "verdict": "pass"}


def test_compare_says_same_and_handles_values_never_measured() -> None:
    from pytest_azchaos.cli_report import change
    assert change(slo(3, "3"), slo(3, "3")) == "same"
    assert change(slo(0, "0"), slo(2, "2")) == "+2"  # no percentage of zero
    assert change(slo(None, "never", "s"), slo(30.0, "30.0s", "s")) == "never -> 30.0s"
    assert change(slo(None, "n/a"), slo(None, "n/a")) == "n/a"
    assert compare({"tests": []}, {"tests": []})[2] == "no SLO was checked in both runs"


@pytest.mark.parametrize(("content", "message"), [
    (None, "missing.json: no such file"),
    ("{not json", "missing.json: not JSON (line 1, column 2"),
    (json.dumps({"schema_version": 99, "tests": []}), "expected report schema version 1, found version 99"),
    (json.dumps({"slos": [], "tests": []}), "found no schema_version (a report from before version 1)"),
])
def test_bad_input_is_one_line_and_exit_status_2_without_traceback(tmp_path: Path, content: str | None,
                                                                  message: str) -> None:
    path = tmp_path / "missing.json"
    if content is not None:
        path.write_text(content)
    good = run_report(tmp_path / "good.json", failover(1.0))
    for args in (["report", str(path)], ["report", "--compare", str(good), str(path)]):
        done = subprocess.run([sys.executable, "-m", "pytest_azchaos.cli", *args], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert done.stderr.startswith("azchaos: error: ") and message in done.stderr
        assert not done.stdout


def test_report_needs_exactly_one_of_a_file_compare_or_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report"]) == 2
    assert "takes one of REPORT_JSON, --compare BEFORE AFTER or --schema; found none of them" in capsys.readouterr().err
    assert main(["report", "--schema"]) == 0
    assert json.loads(capsys.readouterr().out)["properties"]["schema_version"] == {"const": 1}
