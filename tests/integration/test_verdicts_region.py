"""Verdicts that name their cause, on the real default region (issue 11's negative controls).

Each test file below MUST fail, and for the named reason: a fault on an unsteady stack is "stack
not steady", not an SLO failure; writes lost on purpose are blamed on the missing synchronous
standby; a noisy neighbour's p99 points at the stress window. One pytester session, one stack.
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

LOST_UNSTEADY = '''
import pytest
from pytest_azchaos.workloads import example_app


@pytest.mark.slo(failed_requests=None, lost_writes=0)
def test_writes_acknowledged_without_a_sync_standby_are_lost(azchaos):
    leader = azchaos.stack.status()["roles"]["db"]["leader"]
    primary = next(m for m in azchaos.stack.members(role="db") if m.alias == leader)
    standby = next(m.alias for m in azchaos.stack.members(role="db") if m.alias != leader)
    with azchaos.traffic(rate_per_s=50, workload=example_app(reads=0, object_puts=0, object_gets=0)):
        azchaos.wait("2s")
        stopped = azchaos.instance(standby, "stop")
        azchaos.wait("5s")  # strict: false: Patroni drops the synchronous requirement, the primary goes on alone
        with azchaos.outage(primary.az, mode="power", steady=False):  # unsteady on purpose
            stopped.heal()  # the standby comes back without those writes, and is promoted
            azchaos.wait("35s")
'''

STRESSED = '''
import pytest
from pytest_azchaos.workloads import example_app


@pytest.mark.slo(failed_requests=None, p99="250ms")
def test_a_noisy_neighbour_breaks_a_tight_p99(azchaos):
    with azchaos.traffic(rate_per_s=20, workload=example_app(reads=1, writes=1, object_puts=0, object_gets=0)):
        azchaos.wait("2s")
        with azchaos.stress("all", cpu="95%"):
            azchaos.wait("8s")
        azchaos.wait("2s")
'''


def test_unsteady_stacks_lost_writes_and_stress_are_explained(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a_not_steady=NOT_STEADY, test_b_lost=LOST_UNSTEADY, test_c_stress=STRESSED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", f"--azchaos-env={DEFAULT}",
                                           timeout=900)
    print(result.stdout.str()[-4000:])
    result.assert_outcomes(failed=3)
    result.stdout.re_match_lines([r".*stack not steady: .*no synchronous standby.*"], consecutive=False)
    result.stdout.re_match_lines([r".*lost_writes = [1-9]\d* > 0 .*writes acknowledged while the DB had no "
                                  r"synchronous standby.*asynchronous commits lost with the primary.*"],
                                 consecutive=False)
    result.stdout.re_match_lines([r".*p99 = .* > 250(\.0)? ?ms.*stress\(all, cpu 95%\).*"], consecutive=False)
