"""Allure results of a chaos test (allure-pytest with --alluredir), on the stand-in stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .test_report import FLAKY

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "environments" / "minimal.yaml"

OUTAGE_TEST = """
import pytest

@pytest.mark.slo(failed_requests=0, p99="5s")
def test_outage(azchaos):
    with azchaos.traffic(rate_per_s=50):
        azchaos.wait("300ms")
        with azchaos.outage("a", mode="power"):
            azchaos.wait("300ms")
        azchaos.wait("200ms")
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", f"--azchaos-env={MINIMAL}", *args)


def results(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in folder.glob("*-result.json")]


def steps(result: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {s["name"]: {p["name"]: p["value"] for p in s.get("parameters", [])} for s in result.get("steps", [])}


def test_faults_are_steps_with_parameters_and_the_run_is_attached(fake: pytest.Pytester) -> None:
    fake.makepyfile(OUTAGE_TEST)
    folder = fake.path / "allure"
    run(fake, f"--alluredir={folder}").assert_outcomes(passed=1)
    [result] = results(folder)
    found = steps(result)
    names = list(found)
    assert names[:3] == ["steady-state check before outage(a, power)", "inject outage(a, power)",
                         "heal outage(a, power)"], names
    assert found["inject outage(a, power)"]["az"] == "a" and found["inject outage(a, power)"]["mode"] == "power"
    assert found["inject outage(a, power)"]["at"] == "+0.0 s from the first fault"
    assert found["heal outage(a, power)"]["at"].startswith("+0.")
    assert found["steady-state check before outage(a, power)"]["verdict"] == "steady"
    labels = {(label["name"], label["value"]) for label in result["labels"]}
    assert {("environment", "minimal"), ("az", "a"), ("fault", "outage(power)"), ("tag", "az:a")} <= labels
    params = {p["name"]: p for p in result["parameters"]}
    assert params["SLO failed_requests"]["value"].strip("'").startswith("PASS 0 <= 0")
    assert params["SLO p99"]["excluded"] is True
    attached = {a["name"]: a for a in result["attachments"]}
    assert {"azchaos timeline chart (SVG)", "azchaos SLO table", "azchaos history", "azchaos events"} <= set(attached)
    history = (folder / attached["azchaos history"]["source"]).read_text().splitlines()
    assert history[0].startswith("kind,scheduled,start,end,outcome") and len(history) > 20
    events = json.loads((folder / attached["azchaos events"]["source"]).read_text())
    assert [e["kind"] for e in events if e["kind"] in ("inject", "heal")] == ["inject", "heal"]
    assert "<svg" in (folder / attached["azchaos timeline chart (SVG)"]["source"]).read_text()
    environment = (folder / "environment.properties").read_text(encoding="latin-1").splitlines()
    assert "minimal\\ AZs = a, b" in environment and "minimal\\ run = fake-minimal" in environment


def test_a_stack_that_is_not_steady_is_a_broken_step(fake: pytest.Pytester) -> None:
    fake.makepyfile("""
        def test_not_steady(azchaos):
            azchaos.outage("a", mode="power")
            azchaos.outage("b", mode="power", steady="200ms")  # a fault is still active: never steady
    """)
    folder = fake.path / "allure"
    run(fake, f"--alluredir={folder}").assert_outcomes(failed=1)
    [result] = results(folder)
    check = [s for s in result["steps"] if s["name"] == "steady-state check before outage(b, power)"]
    # "broken", not "failed": Allure's word for a test that proves nothing either way, as NotSteady means
    assert check and check[0]["status"] == "broken", [s["name"] for s in result["steps"]]
    assert "outage(a, power) is still active" in {p["name"]: p["value"] for p in check[0]["parameters"]}["why"]


def test_without_alluredir_nothing_is_loaded(fake: pytest.Pytester) -> None:
    fake.makepyfile("""
        import sys

        def test_plain(request, azchaos):
            assert request.config.pluginmanager.get_plugin("azchaos-allure") is None
            assert "pytest_azchaos.allure_report" not in sys.modules
    """)
    run(fake).assert_outcomes(passed=1)


def test_each_attempt_of_a_rerun_test_is_its_own_allure_result(fake: pytest.Pytester) -> None:
    """Allure groups a test's attempts by history id (its "retries"): each keeps its own steps and SLOs."""
    fake.makepyfile(FLAKY)
    folder = fake.path / "allure"
    result = run(fake, f"--alluredir={folder}", "--reruns=1")
    assert result.parseoutcomes() == {"passed": 1, "rerun": 1}
    first, rerun = sorted(results(folder), key=lambda r: r["start"])
    assert (first["status"], rerun["status"]) == ("failed", "passed")
    assert first["historyId"] == rerun["historyId"]
    assert "inject outage(b, power)" in steps(first) and steps(rerun) == {}
    slo = {r["status"]: {p["name"]: p["value"] for p in r["parameters"]}["SLO failed_requests"] for r in (first, rerun)}
    assert slo["failed"].strip("'").startswith("FAIL") and slo["passed"].strip("'").startswith("PASS 0 <= 0")
