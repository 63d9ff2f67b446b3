"""The ``azchaos_env`` marker on real stacks, as users run it (pytester): a test marked with the bundled
``minimal`` environment and an unmarked one on the session's ``default`` region each get their own
stack, both serve traffic, both are removed at session end, and the report shows each region and
which test ran on which (in headless Chromium: each test's line leads to its region's section)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from headless_chromium import open_page

from pytest_azchaos import report_schema

pytestmark = [pytest.mark.usefixtures("leaves_nothing_behind"), pytest.mark.slow]

TESTS = '''
import pytest


@pytest.mark.azchaos_env("minimal")
def test_on_minimal(azchaos):
    assert azchaos.stack.topology.azs == ("a", "b")
    with azchaos.traffic(rate_per_s=20):
        azchaos.wait("1s")
    print(f"\\nRAN minimal {azchaos.stack.run_id}")


def test_on_the_session_region(azchaos):
    assert azchaos.stack.topology.azs == ("a", "b", "c")
    with azchaos.traffic(rate_per_s=20):
        azchaos.wait("1s")
    print(f"\\nRAN default {azchaos.stack.run_id}")
'''


def test_a_marked_test_gets_a_stack_of_its_environment(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_envs=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "--azchaos-env=default",
                                           "--azchaos-report=out", timeout=900)
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    ran = dict(re.findall(r"^RAN (\w+) (\S+)$", out, flags=re.MULTILINE))
    assert set(ran) == {"minimal", "default"} and ran["minimal"] != ran["default"]
    for run_id in ran.values():  # each started once, lazily, and removed at the end
        assert out.count(f"starting stack {run_id}") == 1
        assert re.search(rf"stack {run_id} removed \(\d+ objects\)", out)
    result.stdout.re_match_lines([r".*::test_on_minimal\s+failed_requests\s+0\s+0\s+PASS",
                                  r".*::test_on_the_session_region\s+failed_requests\s+0\s+0\s+PASS"])
    data = report_schema.load(pytester.path / "out" / "report.json")
    regions = {e["run_id"]: e for e in data["environments"]}
    assert {Path(regions[ran[name]]["environment"]).name for name in ran} == {"minimal.yaml", "default.yaml"}
    assert regions[ran["minimal"]]["azs"] == ["a", "b"] and regions[ran["default"]]["azs"] == ["a", "b", "c"]
    ran_on = {t["test"].split("::")[-1]: t["run_id"] for t in data["tests"]}
    assert ran_on == {"test_on_minimal": ran["minimal"], "test_on_the_session_region": ran["default"]}
    page = open_page((pytester.path / "out" / "report.html").as_uri(), probe=LEADS_TO)
    assert page.errors == []
    shown = {t["test"].split("::")[-1]: t for t in page.value}
    assert shown["test_on_minimal"]["region"].endswith(": minimal.yaml")
    assert shown["test_on_the_session_region"]["region"].endswith(": default.yaml")
    assert all(t["height"] > 0 for t in shown.values())  # the section is drawn, not hidden


# Where each test's "on <environment>" link leads: the heading it points at, and its drawn height.
LEADS_TO = """Array.from(document.querySelectorAll('section.test')).map(s => {
  const link = s.querySelector('p.ran-on a');
  const target = link ? document.getElementById(link.getAttribute('href').slice(1)) : null;
  return {test: s.dataset.test, region: target ? target.textContent : null,
          height: target ? target.getBoundingClientRect().height : 0};
})"""
