"""The SLOs of issue 5 on the real default region, as users run them (pytester), with the
negative controls that MUST fail: no LB retry, dropped DB connections, async replication."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "environments" / "default.yaml"
EXAMPLE = (ROOT / "examples" / "scenarios" / "test_01_az_power_loss.py").read_text()

pytestmark = [pytest.mark.usefixtures("leaves_nothing_behind"), pytest.mark.slow]

RESET_PEER = '''
import pytest
from pytest_azchaos.workloads import example_app


@pytest.mark.slo(failed_requests=0)
def test_dropped_db_connections_fail_requests(azchaos):
    with azchaos.traffic(rate_per_s=30, workload=example_app(reads=0, object_puts=0, object_gets=0)):
        azchaos.wait("1s")
        # Three toxics at once, on purpose: only the first waits for a steady stack.
        toxics = [azchaos.toxic(f"{az}/app->db", "reset_peer", timeout=0, toxicity=1.0,
                                steady=None if az == "a" else False) for az in "abc"]
        azchaos.wait("3s")
        for toxic in toxics:
            toxic.heal()
'''

ASYNC_LOSS = '''
import pytest
from pytest_azchaos.workloads import example_app


@pytest.mark.slo(failed_requests=None, lost_writes=0)
def test_async_replication_loses_acknowledged_writes(azchaos):
    with azchaos.traffic(rate_per_s=50, workload=example_app(reads=0, object_puts=0, object_gets=0)):
        azchaos.wait("2s")
        # The standby stops and falls behind; the async primary goes on acknowledging writes.
        # (A paused standby would not do: the kernel keeps buffering the WAL sent to it.)
        standby = azchaos.instance("db-b-1", "stop")
        azchaos.wait("3s")
        # steady=False: the stack is not steady on purpose (no synchronous standby).
        with azchaos.outage("a", mode="power", steady=False):  # the primary dies with writes the standby never got
            standby.heal()  # the standby starts again, without those writes, and is promoted
            azchaos.wait("35s")  # Patroni's ttl (20 s) expires, then the standby promotes
'''


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makeconftest((ROOT / "examples" / "scenarios" / "conftest.py").read_text())  # the scenarios' fixtures
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args, timeout=900)


def variant(pytester: pytest.Pytester, name: str, *replacements: tuple[str, str]) -> str:
    env = DEFAULT.read_text()
    for old, new in replacements:
        assert old in env
        env = env.replace(old, new)
    pytester.path.joinpath(f"{name}.yaml").write_text(f"images: {ROOT / 'environments' / 'images'}\n{env}")
    return f"--azchaos-env={name}.yaml"


def test_example_passes_and_dropped_db_connections_fail(pytester: pytest.Pytester) -> None:
    """Issue 5's acceptance example passes; 100 % reset_peer on app->db with failed_requests=0 fails."""
    pytester.makepyfile(test_example=EXAMPLE, test_reset_peer=RESET_PEER)
    result = run(pytester, f"--azchaos-env={DEFAULT}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.re_match_lines([
        r".*test_primary_az_loses_power_under_load\s+failed_requests\[read\]\s+0\s+0\s+PASS",
        r".*test_primary_az_loses_power_under_load\s+failed_requests\[get_object\]\s+0\s+0\s+PASS",
        r".*test_primary_az_loses_power_under_load\s+failover_time\s+\d+\.\ds\s+120\.0s\s+PASS",
        r".*test_primary_az_loses_power_under_load\s+lost_writes\s+0\s+0\s+PASS",
        r".*test_primary_az_loses_power_under_load\s+p99\s+\S+\s+15\.0s\s+PASS",
    ], consecutive=False)
    result.stdout.fnmatch_lines(["*failed_requests = * > 0 (of * requests): * write did not succeed between "
                                 "* s and * s after inject toxic(?/app->db, reset_peer*"])
    print(result.stdout.str()[-3000:])


def test_no_lb_retry_fails_reads_and_async_replication_loses_writes(pytester: pytest.Pytester) -> None:
    """The same example without the LB's retry must fail on reads, naming the count and the window;
    async replication with a lagging standby must lose acknowledged writes, and lost_writes must say so."""
    pytester.makepyfile(test_example=EXAMPLE, test_async=ASYNC_LOSS)
    env = variant(pytester, "noretry-async", ("retry: true", "retry: false"),
                  ("synchronous: true", "synchronous: false"))
    result = run(pytester, env)
    result.assert_outcomes(failed=2)
    result.stdout.re_match_lines([  # each pattern on its own: re_match_lines keeps the order
        r".*failed_requests\[read\] = [1-9]\d* > 0 \(of \d+ requests\): [1-9]\d* read did not succeed between "
        r"[-+]\d+\.\d s and \+\d+\.\d s after inject outage\([ab], power\).*"])  # the primary's AZ
    result.stdout.re_match_lines([
        r".*lost_writes = [1-9]\d* > 0 \(of \d+ acknowledged writes; \d+ with unknown outcome, not counted\): "
        r"[1-9]\d* missing, \d+ changed, acknowledged between .*"])
    # ... and the verdict names the cause from the timeline (issue 11)
    result.stdout.re_match_lines([r".*lost_writes = .*writes acknowledged while the DB had no synchronous standby.*"
                                  r"asynchronous commits lost with the primary.*"])
    print(result.stdout.str()[-3000:])


FROZEN = (ROOT / "examples" / "scenarios" / "test_02_frozen_az.py").read_text()
PARTITION = (ROOT / "examples" / "scenarios" / "test_03_partition.py").read_text()


def test_gray_failure_examples_pass_on_the_default_region(pytester: pytest.Pytester) -> None:
    """Issue 10's examples: a frozen AZ is routed around and takes an S3 upload, a healed partition is
    no second outage."""
    pytester.makepyfile(test_frozen=FROZEN, test_partition=PARTITION)
    result = run(pytester, f"--azchaos-env={DEFAULT}")
    print(result.stdout.str()[-3000:])
    result.assert_outcomes(passed=3)
    result.stdout.re_match_lines([r".*test_an_upload_completes_while_an_az_is_frozen\s+upload_while_frozen\s+.*PASS",
                                  r".*test_a_healed_partition_causes_no_second_outage\s+lost_writes\s+0\s+0\s+PASS"],
                                 consecutive=False)


OBJECT_PUTS_THROUGH_A_FREEZE = '''
import time

import pytest
from pytest_azchaos.stack.roles.s3 import held_locks
from pytest_azchaos.workloads import example_app


@pytest.mark.slo(failed_requests=None, lost_writes=0)
def test_object_puts_through_a_frozen_az(azchaos):
    with azchaos.traffic(rate_per_s=60, workload=example_app(reads=1, writes=2, object_puts=3, object_gets=1)):
        azchaos.wait("2s")
        with azchaos.outage("c", mode="freeze"):
            azchaos.wait("10s")
        azchaos.wait("3s")
    # Traffic is over: what requests left behind goes within seconds, else reads wait for it.
    node = azchaos.stack.members(role="s3")[0]
    deadline = time.monotonic() + 20
    while (locks := held_locks(azchaos.stack, node)) != [] and time.monotonic() < deadline:
        time.sleep(1)
    assert locks is not None, "MinIO's admin API did not answer (top locks)"
    assert locks == [], "S3 locks still held 20 s after the traffic: " + "; ".join(
        f"{lock['type']} {lock['resource']} of {lock['owner']} on {lock['serverlist']}" for lock in locks)
'''


def test_a_frozen_az_loses_no_acknowledged_object_under_many_puts(pytester: pytest.Pytester) -> None:
    """Scenario 2's freeze with ~26 object PUTs a second: S3 calls that time out and are retried, and PUTs
    that a MinIO node commits after their client left. Upstream MinIO undid such a commit by deleting
    the object it had overwritten, an acknowledged one (committed-rename.patch): this run lost an
    acknowledged object in 4 of 15 runs beside package installs, 0 of 25 with the patch
    (docs/benchmarks.md). Not red every time without it: a race, shown by the repeats.

    Once traffic is over no object lock may stay held: lock grants whose answer the freeze cut off
    stayed held 1-2 minutes, and every GET of their object timed out meanwhile
    (lost-lock-grant.patch: red in 2 of 4 runs beside installs without it, 0 of 10 with it)."""
    pytester.makepyfile(test_puts=OBJECT_PUTS_THROUGH_A_FREEZE)
    result = run(pytester, f"--azchaos-env={DEFAULT}")
    print(result.stdout.str()[-3000:])
    result.assert_outcomes(passed=1)
    result.stdout.re_match_lines([r".*test_object_puts_through_a_frozen_az\s+lost_writes\s+0\s+0\s+PASS"])


def test_a_frozen_az_fails_reads_without_the_lb_retry(pytester: pytest.Pytester) -> None:
    """The frozen-AZ example's negative twin: without the LB's retry on another target, the requests
    that meet the frozen replica (each time nginx tries it again) fail, also after the ejection window."""
    pytester.makepyfile(test_frozen=FROZEN)
    result = run(pytester, variant(pytester, "noretry", ("retry: true", "retry: false")), "-k", "routed_around")
    print(result.stdout.str()[-3000:])
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines(
        [r".*late_failed_reads = [1-9]\d* > 0: reads failed after the ejection window \(3 s\).*"])


KILLED_REPLICA = '''
import pytest


@pytest.mark.slo(failed_requests=0)
def test_one_killed_replica_fails_requests(azchaos):
    with azchaos.traffic(rate_per_s=30):
        azchaos.wait("1s")
        with azchaos.instance("app-a-1", "kill"):
            azchaos.wait("3s")
'''


def test_failed_requests_name_the_replica_the_lb_sent_them_to(pytester: pytest.Pytester) -> None:
    """Issue 11: without the LB's retry, the requests sent to a killed replica fail, and the broken
    SLO says which upstream they went to (from nginx's X-Azchaos-Upstream, named by the stack)."""
    pytester.makepyfile(test_killed=KILLED_REPLICA)
    result = run(pytester, variant(pytester, "noretry", ("retry: true", "retry: false")))
    print(result.stdout.str()[-3000:])
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines([r".*failed_requests = \d+ > 0 .*by cause: \d+x \w+ HTTP 50\d from app-a-1 .*"])
