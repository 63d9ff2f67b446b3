"""A chaos test rerun by pytest-rerunfailures, on a real region (minimal), as users run it (pytester).

The first attempt loses both AZs and breaks its SLO; the rerun passes. The rerun runs on the stack
the first attempt ran on (started once, removed once, after the rerun); the reports agree with
pytest ("1 passed, 1 rerun"): report.json's test is the rerun, with the first attempt under
``reruns``; report.html (in headless Chromium) shows the first attempt folded below the test with a
chart of its own; the JUnit XML's last test case carries the rerun's verdict only."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from headless_chromium import open_page

from pytest_azchaos import report_schema

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "environments" / "minimal.yaml"

pytestmark = [pytest.mark.usefixtures("leaves_nothing_behind"), pytest.mark.slow]

FLAKY = '''
import pathlib

import pytest


@pytest.mark.slo(failed_requests=0)
def test_flaky(azchaos):
    first = not pathlib.Path("attempted").exists()
    pathlib.Path("attempted").touch()
    print(f"\\nRAN {azchaos.stack.run_id}")
    with azchaos.traffic(rate_per_s=20):
        azchaos.wait("1s")
        if first:  # every app replica down: the LB has nothing to send requests to
            with azchaos.outage("a"), azchaos.outage("b", steady=False):
                azchaos.wait("1s")
        azchaos.wait("1s")
'''

# The first attempt, unfolded: its summary line and how tall its chart is drawn.
FIRST_ATTEMPT = """(() => {
  const d = document.querySelector('section.test details.rerun');
  if (!d) return null;
  d.open = true;
  const svg = d.querySelector('div.chart svg');
  return {summary: d.querySelector('summary').textContent,
          chart: svg ? svg.getBoundingClientRect().height : 0,
          why: document.querySelector('table.verdicts tr:nth-child(2) td:nth-child(3)').textContent};
})()"""


def test_a_rerun_runs_on_the_same_stack_and_every_report_keeps_both_attempts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_flaky=FLAKY)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", f"--azchaos-env={MINIMAL}", "--reruns=1",
                                           "--azchaos-report=out", "--junitxml=junit.xml", timeout=900)
    out = result.stdout.str()
    assert result.ret == 0 and result.parseoutcomes() == {"passed": 1, "rerun": 1}, out[-3000:]
    ran = re.findall(r"^RAN (\S+)$", out, flags=re.MULTILINE)
    assert len(ran) == 2 and ran[0] == ran[1], ran  # the rerun on the first attempt's stack
    assert out.count("starting stack") == 1 and out.count(f"stack {ran[0]} removed") == 1
    assert out.index(f"stack {ran[0]} removed") > out.rindex("RAN ")  # after the rerun, not before it

    data = report_schema.load(pytester.path / "out" / "report.json")
    assert {k: v for k, v in data["summary"].items() if v} == {"tests": 1, "passed": 1, "reruns": 1}
    [test] = data["tests"]
    assert test["verdict"] == "passed" and test["run_id"] == ran[0] and test["faults"] == []
    assert [(s["name"], s["verdict"]) for s in test["slos"]] == [("failed_requests", "pass")]
    [first] = test["reruns"]
    assert first["verdict"] == "slo_broken" and first["run_id"] == ran[0]
    assert [f["subject"] for f in first["faults"]] == ["outage(a, power)", "outage(b, power)"]
    assert first["slos"][0]["verdict"] == "fail" and first["timings"]["failed"] > 0

    last = list(ET.parse(pytester.path / "junit.xml").getroot().iter("testcase"))[-1]
    props = [(p.get("name"), p.get("value")) for p in last.iter("property")]
    assert [v for name, v in props if name == "azchaos.verdict"] == ["passed"], props
    assert ("azchaos.slo.failed_requests.verdict", "pass") in props

    page = open_page((pytester.path / "out" / "report.html").as_uri(), probe=FIRST_ATTEMPT)
    assert page.errors == [] and page.value is not None
    assert page.value["summary"].startswith("attempt 1 of 2: SLO BROKEN failed_requests = ")
    assert page.value["why"] == "1 SLO(s) met (attempt 2; earlier attempts 1: SLO BROKEN)"
    assert page.value["chart"] > 100  # the first attempt's own chart, drawn
