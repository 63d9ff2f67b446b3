"""The run's reports as CI reads them, on the stand-in stack: SLO verdicts as JUnit XML properties,
report.json valid against its documented schema (a failing SLO too), and report.html per test."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_azchaos import report_schema

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "environments" / "minimal.yaml"

TESTS = """
import pytest

@pytest.mark.slo(failed_requests=0, p99="5s")
def test_calm(azchaos):
    with azchaos.traffic(rate_per_s=50):
        azchaos.wait("300ms")

@pytest.mark.slo(failed_requests=0)
def test_lose_every_az(azchaos):
    with azchaos.traffic(rate_per_s=50):
        azchaos.wait("200ms")
        with azchaos.outage("a"), azchaos.outage("b", steady=False):
            azchaos.wait("400ms")

def test_not_chaos():
    pass
"""


def properties(xml: Path) -> dict[str, dict[str, str]]:
    """Each test case's properties: {test name: {property: value}}."""
    found = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        found[case.get("name", "")] = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
    return found


@pytest.fixture
def ran(fake: pytest.Pytester) -> tuple[pytest.Pytester, pytest.RunResult]:
    fake.makepyfile(TESTS)
    result = fake.runpytest_subprocess("-p", "no:cacheprovider", f"--azchaos-env={MINIMAL}", "--azchaos-report=out",
                                       "--junitxml=junit.xml")
    result.assert_outcomes(passed=2, failed=1)
    return fake, result


def test_junit_xml_has_each_slo_verdict_as_properties(ran: tuple[pytest.Pytester, pytest.RunResult]) -> None:
    fake, _ = ran
    props = properties(fake.path / "junit.xml")
    calm, lost = props["test_calm"], props["test_lose_every_az"]
    assert calm["azchaos.verdict"] == "passed"
    assert (calm["azchaos.slo.failed_requests.value"], calm["azchaos.slo.failed_requests.limit"]) == ("0", "0")
    assert calm["azchaos.slo.failed_requests.verdict"] == "pass" and calm["azchaos.slo.p99.limit"] == "5"
    assert "azchaos.slo.failed_requests.message" not in calm
    assert lost["azchaos.verdict"] == "slo_broken"
    assert int(lost["azchaos.slo.failed_requests.value"]) > 0
    assert lost["azchaos.slo.failed_requests.verdict"] == "fail"
    assert lost["azchaos.slo.failed_requests.message"].startswith("failed_requests = ")
    assert props["test_not_chaos"] == {}  # a test without azchaos gets no property


def test_report_json_validates_and_holds_each_chaos_test(ran: tuple[pytest.Pytester, pytest.RunResult]) -> None:
    fake, _ = ran
    data = report_schema.load(fake.path / "out" / "report.json")  # raises if it does not fit the schema
    assert data["kind"] == "run" and data["summary"]["slo_broken"] == 1 and data["summary"]["passed"] == 1
    calm, lost = data["tests"]  # test_not_chaos is not a chaos test: not in the report
    assert calm["test"].endswith("::test_calm") and calm["verdict"] == "passed" and calm["faults"] == []
    assert calm["chart"]["origin"] == "first request" and calm["timings"]["failed"] == 0
    assert lost["verdict"] == "slo_broken" and [s["verdict"] for s in lost["slos"]] == ["fail"]
    assert [f["subject"] for f in lost["faults"]] == ["outage(a, power)", "outage(b, power)"]
    assert all(f["end"] is not None for f in lost["faults"])  # healed at the end of the test
    assert lost["chart"]["origin"] == "first fault" and lost["chart"]["windows"][0]["t"] < 0
    # Not "first_error >= 0": a request sent just before the outage may fail by it on a loaded host.
    when = lost["timings"]
    assert lost["errors"][0]["error"] == "HTTP 503"
    assert when["traffic_start"] < 0 <= when["last_error"] and when["first_error"] <= when["last_error"]
    assert data["environment"]["azs"] == ["a", "b"] and "lb" in data["environment"]["services"]
    assert [s["name"] for s in data["slos"]] == ["failed_requests", "p99", "failed_requests"]  # the flat list


def test_report_html_shows_the_broken_test_first_with_its_chart_and_events(
        ran: tuple[pytest.Pytester, pytest.RunResult]) -> None:
    fake, result = ran
    result.stdout.fnmatch_lines(["azchaos report: */out/report.html"])
    page = (fake.path / "out" / "report.html").read_text()
    assert page.index("::test_lose_every_az'") < page.index("::test_calm'")
    assert page.count("<svg") == 2 and "<td>inject</td><td>outage(a, power)</td>" in page
    charts = sorted(p.name for p in (fake.path / "out" / "latest" / "charts").iterdir())
    assert charts == [f"test_report_html_shows_the_broken_test_first_with_its_chart_and_events.py_{name}.{ext}"
                      for name in ("test_calm", "test_lose_every_az") for ext in ("png", "svg")]


def test_without_matplotlib_the_report_has_the_hand_drawn_chart_and_no_png(
        fake: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.makepyfile(TESTS)
    monkeypatch.setenv("AZCHAOS_CHART", "svg")
    fake.runpytest_subprocess("-p", "no:cacheprovider", f"--azchaos-env={MINIMAL}", "--azchaos-report=out",
                              "-k", "calm").assert_outcomes(passed=1)
    page = (fake.path / "out" / "report.html").read_text()
    assert 'class="azchaos-chart"' in page
    assert [p.suffix for p in (fake.path / "out" / "latest" / "charts").iterdir()] == [".svg"]
    report_schema.load(fake.path / "out" / "report.json")


def test_json_schema_of_the_docs_is_the_one_printed(fake: pytest.Pytester) -> None:
    docs = (ROOT / "docs" / "reports.md").read_text()
    assert f"## report.json, schema version {report_schema.SCHEMA_VERSION}" in docs
    for field in report_schema.SCHEMA["required"]:
        assert f'"{field}"' in docs, field
    assert json.loads(json.dumps(report_schema.SCHEMA))  # printable as it is (azchaos report --schema)


def test_runs_at_once_in_one_folder_each_keep_their_report(fake: pytest.Pytester) -> None:
    """Issue 12: three runs in one checkout left one report.json holding one test of three."""
    fake.makepyfile(**{f"test_{n}": f"def test_{n}(azchaos):\n    with azchaos.traffic(rate_per_s=20):\n"
                                      f"        azchaos.wait('300ms')\n" for n in ("one", "two", "three")})
    runs = [fake.popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--azchaos-env={MINIMAL}",
                        "--azchaos-report=out", f"test_{n}.py"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT)
            for n in ("one", "two", "three")]
    for run in runs:
        output = run.communicate(timeout=300)[0]
        assert run.returncode == 0, output.decode()
    kept = sorted((fake.path / "out" / "runs").iterdir())
    tests = sorted(t["test"] for folder in kept for t in report_schema.load(folder / "report.json")["tests"])
    assert tests == ["test_one.py::test_one", "test_three.py::test_three", "test_two.py::test_two"]
    index = (fake.path / "out" / "index.html").read_text()
    assert all(f"runs/{folder.name}/report.html" in index for folder in kept)
    assert report_schema.load(fake.path / "out" / "report.json")["summary"]["tests"] == 1  # the last one


def test_a_test_that_fails_by_its_own_assert_keeps_its_traffic_faults_and_slos_in_the_report(
        fake: pytest.Pytester) -> None:
    fake.makepyfile(
        """
        import pytest

        @pytest.mark.slo(failed_requests=0)
        def test_own_check(azchaos):
            with azchaos.traffic(rate_per_s=50):
                azchaos.wait("200ms")
                with azchaos.outage("a"):
                    azchaos.wait("200ms")
            assert False, "the app's own check failed"

        def test_skipped_halfway(azchaos):
            with azchaos.traffic(rate_per_s=50):
                azchaos.wait("100ms")
            pytest.skip("skipped halfway")
        """
    )
    result = fake.runpytest_subprocess("-p", "no:cacheprovider", f"--azchaos-env={MINIMAL}", "--azchaos-report=out")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*AssertionError: the app's own check failed*"])  # its own error, not ours
    result.stdout.no_fnmatch_line("*SLO broken*")
    data = report_schema.load(fake.path / "out" / "report.json")
    entry = next(t for t in data["tests"] if t["test"].endswith("::test_own_check"))
    # Kept at all is the point: how many 400 ms at 50/s gives depends on the host (8 beside installs).
    assert entry["verdict"] == "failed" and entry["timings"]["requests"] > 0
    assert entry["reason"] == "AssertionError: the app's own check failed"
    page = (fake.path / "out" / "report.html").read_text()
    assert page.count("AssertionError: the app&#x27;s own check failed") == 2  # the verdicts' why and the test
    assert [f["subject"] for f in entry["faults"]] == ["outage(a, power)"] and entry["events"]
    assert [(s["name"], s["verdict"]) for s in data["slos"]] == [("failed_requests", "pass")]


def test_a_run_on_two_environments_reports_both_and_which_each_test_ran_on(fake: pytest.Pytester) -> None:
    fake.makepyfile("""
import pytest

def test_on_the_session_region(azchaos):
    with azchaos.traffic(rate_per_s=50):
        azchaos.wait("200ms")

@pytest.mark.azchaos_env("localstack")
def test_on_localstack(azchaos):
    with azchaos.traffic(rate_per_s=50):
        azchaos.wait("200ms")
""")
    result = fake.runpytest_subprocess("-p", "no:cacheprovider", f"--azchaos-env={MINIMAL}", "--azchaos-report=out")
    result.assert_outcomes(passed=2)
    data = report_schema.load(fake.path / "out" / "report.json")
    envs = {Path(e["environment"]).name: e["run_id"] for e in data["environments"]}
    assert list(envs) == ["minimal.yaml", "localstack.yaml"] and len(set(envs.values())) == 2
    assert data["environment"]["run_id"] == envs["minimal.yaml"]  # the first, for readers of one region
    ran_on = {t["test"].split("::")[-1]: t["run_id"] for t in data["tests"]}
    assert ran_on == {"test_on_the_session_region": envs["minimal.yaml"], "test_on_localstack": envs["localstack.yaml"]}
    page = (fake.path / "out" / "report.html").read_text()
    assert "Environment 1: minimal.yaml" in page and "Environment 2: localstack.yaml" in page
    assert f"on <a href='#env-{envs['localstack.yaml']}'>localstack.yaml</a>" in page


FLAKY = """
import pathlib

import pytest


@pytest.mark.slo(failed_requests=0)
def test_flaky(azchaos):
    first = not pathlib.Path("attempted").exists()
    pathlib.Path("attempted").touch()
    with azchaos.traffic(rate_per_s=50):
        azchaos.wait("200ms")
        if first:  # the first attempt loses every AZ and breaks its SLO; the rerun does not
            with azchaos.outage("a"), azchaos.outage("b", steady=False):
                azchaos.wait("400ms")
        azchaos.wait("200ms")
"""


def test_a_rerun_test_is_its_last_attempt_and_keeps_the_earlier_one(fake: pytest.Pytester) -> None:
    """With pytest-rerunfailures: the verdict is the rerun's, as pytest's outcome is, and the first
    attempt's broken SLO stays in the report, apart: not the rerun's SLOs, JUnit properties or counts."""
    fake.makepyfile(FLAKY)
    result = fake.runpytest_subprocess("-p", "no:cacheprovider", f"--azchaos-env={MINIMAL}", "--azchaos-report=out",
                                       "--junitxml=junit.xml", "--reruns=1")
    assert result.ret == 0 and result.parseoutcomes() == {"passed": 1, "rerun": 1}, result.stdout.str()
    result.stdout.re_match_lines([r".*::test_flaky \(attempt 1 of 2\)\s+failed_requests\s+[1-9]\d*\s+0\s+FAIL",
                                  r".*::test_flaky \(attempt 2 of 2\)\s+failed_requests\s+0\s+0\s+PASS"])
    data = report_schema.load(fake.path / "out" / "report.json")
    assert {k: v for k, v in data["summary"].items() if v} == {"tests": 1, "passed": 1, "reruns": 1}
    [test] = data["tests"]
    assert test["verdict"] == "passed" and [s["verdict"] for s in test["slos"]] == ["pass"]
    assert test["faults"] == [] and test["timings"]["failed"] == 0  # the rerun's own recording
    [first] = test["reruns"]
    assert first["verdict"] == "slo_broken" and [s["verdict"] for s in first["slos"]] == ["fail"]
    assert [f["subject"] for f in first["faults"]] == ["outage(a, power)", "outage(b, power)"]
    assert first["chart"] is not None and first["timings"]["failed"] > 0
    assert [s["verdict"] for s in data["slos"]] == ["pass"]  # the flat list: the tests' verdicts
    last = [case for case in ET.parse(fake.path / "junit.xml").getroot().iter("testcase")][-1]
    props = [(p.get("name"), p.get("value")) for p in last.iter("property")]
    assert ("azchaos.verdict", "passed") in props and ("azchaos.slo.failed_requests.verdict", "pass") in props
    assert [name for name, _ in props].count("azchaos.verdict") == 1, props  # not the first attempt's too
    page = (fake.path / "out" / "report.html").read_text()
    assert "1 SLO(s) met (attempt 2; earlier attempts 1: SLO BROKEN)" in page
    assert "<details class=rerun><summary>attempt 1 of 2: <span class='verdict v-slo_broken'>" in page
    assert "1 earlier attempt(s) of tests run again" in page


XFAIL = """
import pytest


@pytest.mark.xfail(reason="known: losing both AZs fails requests")
@pytest.mark.slo(failed_requests=0)
def test_known_weakness(azchaos):
    with azchaos.traffic(rate_per_s=50):
        with azchaos.outage("a"), azchaos.outage("b", steady=False):
            azchaos.wait("300ms")


@pytest.mark.xfail(reason="thought broken", strict=True)
@pytest.mark.slo(failed_requests=0)
def test_fixed_strict(azchaos):
    with azchaos.traffic(rate_per_s=50):
        azchaos.wait("300ms")


@pytest.mark.xfail(reason="maybe broken (JIRA-12)")
@pytest.mark.slo(failed_requests=0)
def test_fixed_lenient(azchaos):
    with azchaos.traffic(rate_per_s=50):
        azchaos.wait("300ms")
"""


def test_an_xfail_marker_is_in_the_report_as_pytest_judged_it(fake: pytest.Pytester) -> None:
    """A known weakness (xfail) keeps what happened as its verdict and says it was expected; a strict
    xfail that passed failed the run in pytest, so it is failed in the report too, with pytest's why."""
    fake.makepyfile(XFAIL)
    result = fake.runpytest_subprocess("-p", "no:cacheprovider", f"--azchaos-env={MINIMAL}", "--azchaos-report=out")
    assert result.ret == 1 and result.parseoutcomes() == {"failed": 1, "xfailed": 1, "xpassed": 1}, \
        result.stdout.str()
    result.stdout.re_match_lines([r".*::test_known_weakness \(xfail\)\s+failed_requests\s+[1-9]\d*\s+0\s+FAIL"])
    data = report_schema.load(fake.path / "out" / "report.json")
    tests = {t["test"].split("::")[1]: (t["verdict"], t.get("reason"), t.get("xfail")) for t in data["tests"]}
    assert tests == {"test_known_weakness": ("slo_broken", None, "known: losing both AZs fails requests"),
                     "test_fixed_strict": ("failed", "[XPASS(strict)] thought broken", None),
                     "test_fixed_lenient": ("passed", None, "maybe broken (JIRA-12)")}
    assert {k: v for k, v in data["summary"].items() if v} == \
        {"tests": 3, "passed": 1, "slo_broken": 1, "failed": 1, "xfailed": 1}
    page = (fake.path / "out" / "report.html").read_text()
    assert "(expected to fail, xfail: known: losing both AZs fails requests)" in page
    assert "(passed, though marked xfail: maybe broken (JIRA-12))</td>" in page  # the verdicts table
    assert "<p class=muted>passed, though marked xfail: maybe broken (JIRA-12)</p>" in page  # its section
    assert "3 test(s): 1 slo broken, 1 failed, 1 passed (1 of them expected to fail: xfail)." in page
    assert "1 xfailed" in (fake.path / "out" / "index.html").read_text()


def test_a_rerun_that_errors_in_setup_is_its_error_not_the_earlier_verdict(fake: pytest.Pytester) -> None:
    """pytest says the test ended in an error (its rerun's setup failed): so does the report, with the
    first attempt's broken SLO kept under ``reruns``."""
    fake.makepyfile(FLAKY.replace("def test_flaky(azchaos):", "def test_flaky(azchaos, seeded):") + """

@pytest.fixture
def seeded():
    if pathlib.Path("attempted").exists():
        raise RuntimeError("the database seed failed")
""")
    result = fake.runpytest_subprocess("-p", "no:cacheprovider", f"--azchaos-env={MINIMAL}", "--azchaos-report=out",
                                       "--reruns=1")
    assert result.ret == 1 and result.parseoutcomes() == {"errors": 1, "rerun": 1}, result.stdout.str()
    data = report_schema.load(fake.path / "out" / "report.json")
    assert {k: v for k, v in data["summary"].items() if v} == {"tests": 1, "failed": 1, "reruns": 1}
    [test] = data["tests"]
    assert (test["verdict"], test["reason"]) == ("failed", "error in setup: RuntimeError: the database seed failed")
    assert [first["verdict"] for first in test["reruns"]] == ["slo_broken"]
