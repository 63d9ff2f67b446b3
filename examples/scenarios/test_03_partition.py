"""Scenario 3: the DB primary's AZ is cut off from the region, then the partition heals.

Rehearses a network partition of an AZ with RDS Multi-AZ: the primary's AZ (a on a fresh region:
the Patroni leader, an etcd member, an app replica, a MinIO node) loses its link to the other AZs for 30 s; its members
keep running and talk among themselves. A client inside AZ a keeps writing to the old primary
directly, as an app on that side would. What it measures:

- fencing: the old primary loses the etcd quorum and is demoted; ``old_primary_writes`` counts
  the writes it acknowledged after the cut (none: with synchronous replication it cannot commit
  without its standby), and ``fenced_before_failover`` is how long before the new primary took
  over the old one refused writes (so no write was accepted by two primaries);
- failover on the majority side: the synchronous standby in AZ b is promoted once the leader
  key expires (Patroni's ttl, 20 s), like RDS Multi-AZ; ``failover_time`` bounds it;
- the heal is not a second outage: the old primary rejoins as a standby, the new one keeps its
  role (Patroni 4.0.6+ no longer trusts the rejoining etcd member's stale view of the leader);
- no acknowledged write is lost, including those of the client on the cut-off side.

Negative twin (tests/integration/test_scenario_twins.py): with asynchronous replication, the
old primary acknowledges the cut-off client's writes until it is demoted, and they are lost.
"""

from __future__ import annotations

import time

import pytest

from pytest_azchaos.timeline import FAILOVER
from pytest_azchaos.workloads import example_app

SETTLE_S = 2.0  # writes in flight when the partition heals may still fail; none after this


@pytest.mark.slo(failed_requests=None, failover_time="120s", lost_writes=0)  # writes fail until the failover
def test_a_healed_partition_causes_no_second_outage(azchaos, figures, old_primary_probe, primary_az):
    with azchaos.traffic(rate_per_s=20, workload=example_app(reads=1, writes=3, object_puts=0, object_gets=0)):
        azchaos.wait("2s")
        with old_primary_probe(primary_az) as probe:
            partition = azchaos.outage(primary_az, mode="network")
            cut = time.monotonic()
            azchaos.wait("30s")
            healing = time.monotonic()
            partition.heal()  # the AZ rejoins; returns once the region is whole again (old primary streaming)
        azchaos.wait("5s")
    acked = probe.acknowledged_after(cut)
    figures("old_primary_writes", len(acked), 0, f"writes acknowledged by the cut-off primary after the cut "
            f"(first at {acked[0].start - cut:+.1f} s)" if acked else "")
    late = [op for op in azchaos.history.operations
            if op.kind == "write" and op.scheduled > healing + SETTLE_S and op.outcome != "ok"]
    figures("writes_failed_after_heal", len(late), 0, f"writes failed more than {SETTLE_S:g} s after the partition "
            f"began to heal, the first at {late[0].scheduled - healing:+.1f} s: {late[0].error or late[0].status}"
            if late else "")
    failover = next((e for e in azchaos.timeline.events if e.kind == FAILOVER and e.mono > cut), None)
    assert failover is not None, f"no new DB leader after AZ {primary_az} was cut off: {azchaos.timeline.events}"
    new_leader = failover.detail.split("->")[-1].strip()
    new_az = next((m.az for m in azchaos.stack.members(role="db") if m.alias == new_leader), None)
    assert new_az not in (None, primary_az), (
        f"expected a new leader on the majority side, not in AZ {primary_az}: {failover.detail}")
    # Fenced: the old primary acknowledged nothing once the new one led. Measured from its last
    # acknowledged write (or the cut), not from its first refusal: a commit that waits on the lost sync
    # standby only ends (refused) when its 4 s client timeout or the demotion ends it, which can be
    # after the watch saw the new leader, and says nothing about safety.
    last_ack = max((op.end for op in acked), default=cut)
    refused = f"first refused a write at {probe.demoted_at - cut:+.1f} s, " if probe.demoted_at < float("inf") else ""
    figures("fenced_before_failover", failover.mono - last_ack, 0, f"the old primary {refused}acknowledged its last "
            f"write at {last_ack - cut:+.1f} s, the new one took over at {failover.mono - cut:+.1f} s",
            at_least=True, unit="s")
