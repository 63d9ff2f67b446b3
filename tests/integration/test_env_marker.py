"""The ``azchaos_env`` marker on real stacks, as users run it (pytester): a test marked with the bundled
``minimal`` environment and an unmarked one on the session's ``default`` region each get their own
stack, both serve traffic, and both are removed at session end."""

from __future__ import annotations

import re

import pytest

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
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "--azchaos-env=default", timeout=900)
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    ran = dict(re.findall(r"^RAN (\w+) (\S+)$", out, flags=re.MULTILINE))
    assert set(ran) == {"minimal", "default"} and ran["minimal"] != ran["default"]
    for run_id in ran.values():  # each started once, lazily, and removed at the end
        assert out.count(f"starting stack {run_id}") == 1
        assert re.search(rf"stack {run_id} removed \(\d+ objects\)", out)
    result.stdout.re_match_lines([r".*::test_on_minimal\s+failed_requests\s+0\s+0\s+PASS",
                                  r".*::test_on_the_session_region\s+failed_requests\s+0\s+0\s+PASS"])
