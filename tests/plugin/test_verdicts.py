"""Verdicts a CI gate can trust (issue 11), on the stand-in stack: "stack not steady" is its own
verdict in the error, the summary table, report.json and the exit status; values differ visibly."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_azchaos import report_schema

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "environments" / "minimal.yaml"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--azchaos-env={MINIMAL}",
                                         "--azchaos-report=out", *args)


NESTED = """
import pytest

from pytest_azchaos import report_schema

@pytest.mark.slo(failed_requests=0)
def test_second_fault_on_a_broken_stack(azchaos):
    with azchaos.traffic(rate_per_s=50):
        with azchaos.outage("a"):
            with azchaos.outage("b", steady="300ms"):
                azchaos.wait("300ms")
"""


def test_a_fault_on_an_unsteady_stack_is_not_steady_not_an_slo_failure(fake: pytest.Pytester) -> None:
    fake.makepyfile(NESTED)
    result = run(fake)
    result.assert_outcomes(failed=1)
    assert result.ret == 6  # report.EXIT_NOT_STEADY: not 1, which means a broken SLO
    result.stdout.fnmatch_lines([
        "*::test_second_fault_on_a_broken_stack: stack not steady: fault outage(a, power) is still active; "
        "app-a-1 is exited; app-a-2 is exited (waited 0.* s before outage(b, power))",
    ])
    result.stdout.re_match_lines([r".*::test_second_fault_on_a_broken_stack\s+\(no SLOs\)\s+NOT STEADY: "
                                  r"stack not steady: fault outage\(a, power\) is still active.*"])
    assert "SLO broken" not in result.stdout.str()
    report = json.loads((fake.path / "out" / "report.json").read_text())
    [test] = report["tests"]
    assert test["verdict"] == "not_steady"
    assert test["reasons"] == ["fault outage(a, power) is still active", "app-a-1 is exited",
                               "app-a-2 is exited"]
    assert [e["kind"] for e in report["events"]] == ["inject", "heal"]  # outage(b) was never injected
    assert report["slos"] == [] and test["timings"]["requests"] > 0  # its traffic shown, no SLO judged


def test_a_broken_slo_keeps_exit_status_1_and_its_verdict(fake: pytest.Pytester) -> None:
    fake.makepyfile(NESTED.replace('steady="300ms"', "steady=False") + """

def test_also_not_steady(azchaos):
    with azchaos.outage("a"):
        azchaos.outage("b", steady="200ms")
""")
    result = run(fake)
    result.assert_outcomes(failed=2)
    assert result.ret == 1  # one SLO is broken: that is the verdict that counts
    verdicts = {t["test"].split("::")[1]: t["verdict"]
                for t in json.loads((fake.path / "out" / "report.json").read_text())["tests"]}
    assert verdicts == {"test_second_fault_on_a_broken_stack": "slo_broken", "test_also_not_steady": "not_steady"}


CLEANED = """

@pytest.fixture
def cleaned():
    yield
    raise RuntimeError("cleanup failed")
"""

ERRORS_BESIDE = NESTED + CLEANED + """

@pytest.fixture
def seeded():
    raise RuntimeError("the database seed failed")


def test_seed_fails(azchaos, seeded):
    pass


def test_cleanup_fails(azchaos, cleaned):
    with azchaos.traffic(rate_per_s=50):
        azchaos.wait("200ms")
"""


def test_an_error_in_a_fixture_is_a_failure_beside_a_not_steady_test(fake: pytest.Pytester) -> None:
    """Exit status 6 says the run proves nothing either way: an error in a test's setup or teardown is a
    failure all the same (status 1), and the chaos test it failed is in the report, with why."""
    fake.makepyfile(ERRORS_BESIDE)
    result = run(fake, "--junitxml=junit.xml")
    result.assert_outcomes(failed=1, passed=1, errors=2)
    assert result.ret == 1, result.stdout.str()
    report = json.loads((fake.path / "out" / "report.json").read_text())
    verdicts = {t["test"].split("::")[1]: (t["verdict"], t.get("reason")) for t in report["tests"]}
    assert verdicts["test_second_fault_on_a_broken_stack"][0] == "not_steady"
    assert verdicts["test_seed_fails"] == ("failed", "error in setup: RuntimeError: the database seed failed")
    assert verdicts["test_cleanup_fails"] == ("failed", "error in teardown: RuntimeError: cleanup failed")
    assert [s["verdict"] for s in report["slos"]] == ["pass"]  # test_cleanup_fails met its SLO all the same
    assert {k: v for k, v in report["summary"].items() if v} == {"tests": 3, "not_steady": 1, "failed": 2}
    cases = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
             for case in ET.parse(fake.path / "junit.xml").getroot().iter("testcase")}
    assert cases["test_seed_fails"]["azchaos.verdict"] == "failed"
    assert cases["test_cleanup_fails"]["azchaos.verdict"] == "failed"
    page = (fake.path / "out" / "report.html").read_text()
    assert "error in setup: RuntimeError: the database seed failed" in page

    fake.makepyfile(NESTED.replace("(azchaos):", "(azchaos, cleaned):") + CLEANED)
    alone = run(fake)  # not steady, and then an error in its teardown: not only "not steady"
    alone.assert_outcomes(failed=1, errors=1)
    assert alone.ret == 1, alone.stdout.str()
    [test] = report_schema.load(fake.path / "out" / "report.json")["tests"]
    assert (test["verdict"], test["teardown_error"]) == ("not_steady", "RuntimeError: cleanup failed")
    page = (fake.path / "out" / "report.html").read_text()
    assert "before outage(b, power)); then an error in teardown: RuntimeError: cleanup failed</td>" in page
    assert "<p class=fail>then an error in teardown: RuntimeError: cleanup failed</p>" in page


CALM = """
import pytest

from pytest_azchaos import report_schema

@pytest.mark.slo(failed_requests=0)
def test_calm(azchaos):
    with azchaos.traffic(rate_per_s=50):
        azchaos.wait("300ms")
"""


def test_with_xdist_workers_the_run_is_reported_once_with_every_workers_tests(fake: pytest.Pytester) -> None:
    """pytest-xdist: each worker starts the stacks its tests need; the controller prints one SLO table,
    writes one report of every worker's tests and keeps the not-steady exit status."""
    fake.makepyfile(NESTED + CALM)
    result = run(fake, "-n", "2", "--dist", "each")  # each worker runs both tests: two of each in the run
    assert result.ret == 6, result.stdout.str()
    out = result.stdout.str()
    assert out.count("(no SLOs)") == 2 and len([line for line in out.splitlines() if "::test_calm " in line]) == 2
    [run_folder] = (fake.path / "out" / "runs").iterdir()  # one report: the controller's, not one per worker
    report = json.loads((run_folder / "report.json").read_text())
    assert sorted(t["verdict"] for t in report["tests"]) == ["not_steady", "not_steady", "passed", "passed"]
    assert len(report["environments"]) == 2 and len(report["slos"]) == 2  # a stack per worker
    assert (fake.path / "out" / "report.json").read_bytes() == (run_folder / "report.json").read_bytes()
    # the stacks' progress reaches the terminal (a worker's own terminal output goes nowhere)
    assert {"azchaos [gw0]: stack fake-minimal removed (0 objects)",
            "azchaos [gw1]: stack fake-minimal removed (0 objects)"} <= set(result.stderr.lines)

    fake.makepyfile(test_plain="def test_plain():\n    assert False\n")  # a failure of another kind
    assert run(fake, "-n", "2").ret == 1


def test_with_xdist_each_a_failure_on_one_worker_is_not_hidden_by_not_steady_on_another(
        fake: pytest.Pytester) -> None:
    """--dist each runs a test on every worker: one worker's "not steady" must not turn another's real
    failure of the same test into exit status 6. gw1 fails at once; gw0's verdict comes last."""
    fake.makepyfile(NESTED.replace("def test_second_fault_on_a_broken_stack(azchaos):\n", (
        "def test_second_fault_on_a_broken_stack(azchaos):\n"
        "    import os\n"
        "    assert os.environ['PYTEST_XDIST_WORKER'] != 'gw1', 'a failure of its own on gw1'\n")))
    result = run(fake, "-n", "2", "--dist", "each")
    result.assert_outcomes(failed=2)
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*a failure of its own on gw1*"])


OUTAGES = "import pytest\n" + "".join(f"""

def test_outage_{n}(azchaos):
    with azchaos.traffic(rate_per_s=20):
        with azchaos.outage("a"):
            azchaos.wait("400ms")
""" for n in range(1, 5))


def test_with_xdist_workers_the_report_keeps_the_order_tests_ran_in(fake: pytest.Pytester) -> None:
    """Two workers run tests side by side: the report lists them (and the run's events) in the order
    they started, not one worker's after the other's."""
    fake.makepyfile(OUTAGES)
    result = run(fake, "-n", "2")
    assert result.ret == 0, result.stdout.str()
    report = json.loads((fake.path / "out" / "report.json").read_text())
    firsts = [t["events"][0]["wall"] for t in report["tests"]]  # each test's outage, 0.4 s long
    # Two tests at a time, one per worker: the two that start together may come in either order, but
    # both before the next two (one worker's tests, then the other's, would mix the two waves).
    assert len(firsts) == 4 and max(firsts[:2]) < min(firsts[2:]), firsts
    walls = [e["wall"] for e in report["events"]]
    assert len(walls) == 8 and walls == sorted(walls)


def test_reuse_with_xdist_workers_is_refused(fake: pytest.Pytester) -> None:
    fake.makepyfile(CALM)
    result = run(fake, "-n", "2", "--azchaos-reuse=abc123")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --azchaos-reuse with pytest-xdist workers (-n): every worker would inject *"])
