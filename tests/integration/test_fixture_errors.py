"""Errors in chaos tests' own fixtures, on a real region (minimal), as users run them (pytester).

A fixture that seeds data through the region fails in setup, one that checks the data afterwards
fails in teardown, beside a test stopped as not steady. The run must exit 1, not 6 ("not steady:
proves nothing either way"), and report.json must hold both failed tests with why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "environments" / "minimal.yaml"

pytestmark = [pytest.mark.usefixtures("leaves_nothing_behind"), pytest.mark.slow]

TESTS = '''
import urllib.request

import pytest


@pytest.fixture
def seeded(azchaos_stack):
    urllib.request.urlopen(azchaos_stack.lb_url + "/items/seed-that-was-never-written", timeout=10)


@pytest.fixture
def checked(azchaos_stack):
    yield
    urllib.request.urlopen(azchaos_stack.lb_url + "/items/written-by-nobody", timeout=10)


def test_a_not_steady(azchaos):
    with azchaos.outage("a"):
        azchaos.outage("b", steady="2s")  # outage(a) is still active: not steady


def test_b_seeded(azchaos, seeded):
    pass


@pytest.mark.slo(failed_requests=0)
def test_c_checked(azchaos, checked):
    with azchaos.traffic(rate_per_s=20):
        azchaos.wait("2s")
'''


def test_errors_in_fixtures_fail_the_run_and_are_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fixtures=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--azchaos-env={MINIMAL}",
                                           "--azchaos-report=out", timeout=900)
    out = result.stdout.str()
    print(out[-4000:])
    result.assert_outcomes(failed=1, passed=1, errors=2)
    assert result.ret == 1  # not 6: besides the test that was not steady, two tests failed
    tests = {t["test"].split("::")[1]: t for t in json.loads((pytester.path / "out" / "report.json").read_text())["tests"]}
    assert tests["test_a_not_steady"]["verdict"] == "not_steady"
    assert (tests["test_b_seeded"]["verdict"], tests["test_b_seeded"]["reason"]) == \
        ("failed", "error in setup: urllib.error.HTTPError: HTTP Error 404: Not Found")
    checked = tests["test_c_checked"]
    assert (checked["verdict"], checked["reason"]) == \
        ("failed", "error in teardown: urllib.error.HTTPError: HTTP Error 404: Not Found")
    assert [s["verdict"] for s in checked["slos"]] == ["pass"] and checked["timings"]["requests"] > 0
