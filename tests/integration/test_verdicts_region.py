"""Verdicts that name their cause, on the real default region (issue 11's negative controls).

Each test file below MUST fail, and for the named reason: a fault on an unsteady stack is "stack
not steady", not an SLO failure; a noisy neighbour's p99 points at the stress window. One pytester
session, one stack. (Writes lost on purpose are blamed on the missing synchronous standby in
tests/integration/test_slos_region.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "environments" / "default.yaml"

pytestmark = [pytest.mark.usefixtures("leaves_nothing_behind"), pytest.mark.slow]

NOT_STEADY = '''
import pytest
from pytest_azchaos.workloads import example_app


@pytest.mark.slo(failed_requests=None)
def test_a_fault_while_the_sync_standby_is_stopped(azchaos):
    leader = azchaos.stack.status()["roles"]["db"]["leader"]
    standby = next(m.alias for m in azchaos.stack.members(role="db") if m.alias != leader)
    azchaos.instance(standby, "stop")
    azchaos.outage("c", mode="power", steady="10s")  # the check waits 10 s for a sync standby, then fails
'''

STRESSED = '''
import pytest
from pytest_azchaos.workloads import example_app


@pytest.mark.slo(failed_requests=None, p99="250ms")
def test_a_noisy_neighbour_breaks_a_tight_p99(azchaos):
    with azchaos.traffic(rate_per_s=50, workload=example_app(reads=1, writes=1, object_puts=0, object_gets=0)):
        azchaos.wait("2s")
        with azchaos.stress("all", cpu="99%"):  # each container keeps 1 % of the host's CPU
            azchaos.wait("8s")
        azchaos.wait("2s")
'''


def test_an_unsteady_stack_and_a_noisy_neighbour_are_explained(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a_not_steady=NOT_STEADY, test_c_stress=STRESSED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", f"--azchaos-env={DEFAULT}",
                                           timeout=900)
    print(result.stdout.str()[-4000:])
    result.assert_outcomes(failed=2)
    result.stdout.re_match_lines([r".*stack not steady: .*no synchronous standby.*"], consecutive=False)
    result.stdout.re_match_lines([r".*p99 = .* > 250(\.0)? ?ms.*during stress\(all, cpu 99%\).*"], consecutive=False)
