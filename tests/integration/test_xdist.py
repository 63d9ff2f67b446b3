"""Chaos tests in pytest-xdist workers on real stacks (minimal), as users run them (pytester): each
worker starts its own region and removes it, faults stay in their own region, and the controller
prints one SLO table and writes one report with both regions and every test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_azchaos import report_schema

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "environments" / "minimal.yaml"

pytestmark = [pytest.mark.usefixtures("leaves_nothing_behind"), pytest.mark.slow]

TESTS = '''
import pytest


@pytest.mark.slo(failed_requests=0)
@pytest.mark.parametrize("az", ["a", "b"])
def test_power_loss(azchaos, az):
    with azchaos.traffic(rate_per_s=20):
        azchaos.wait("1s")
        with azchaos.outage(az, mode="power"):
            azchaos.wait("2s")
        azchaos.wait("1s")
'''


def test_each_worker_has_its_own_region_and_the_run_one_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_workers=TESTS)  # two tests, two workers: xdist sends one to each (round robin)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", f"--azchaos-env={MINIMAL}",
                                           "--azchaos-report=out", timeout=900)
    result.assert_outcomes(passed=2)
    started = dict(re.findall(r"^azchaos \[(gw\d)\]: starting stack (\w+)", result.stderr.str(), flags=re.MULTILINE))
    assert set(started) == {"gw0", "gw1"} and len(set(started.values())) == 2, result.stderr.str()[-3000:]
    for run_id in started.values():
        assert re.search(rf"^azchaos \[gw\d\]: stack {run_id} removed \(\d+ objects\)", result.stderr.str(),
                         flags=re.MULTILINE)
    result.stdout.re_match_lines([r".*::test_power_loss\[a\]\s+failed_requests\s+0\s+0\s+PASS"], consecutive=False)
    result.stdout.re_match_lines([r".*::test_power_loss\[b\]\s+failed_requests\s+0\s+0\s+PASS"], consecutive=False)
    [run] = (pytester.path / "out" / "runs").iterdir()
    data = report_schema.load(run / "report.json")
    assert sorted(e["run_id"] for e in data["environments"]) == sorted(started.values())
    assert {t["run_id"] for t in data["tests"]} == set(started.values())  # one test on each worker's region
    for test in data["tests"]:  # each region saw only its own test's fault
        az = test["test"][-2]
        assert [f["subject"] for f in test["faults"]] == [f"outage({az}, power)"]
        assert test["verdict"] == "passed" and test["timings"]["requests"] > 0
