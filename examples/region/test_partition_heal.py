"""The DB primary's AZ is cut off from the region, then the partition heals (environments/default.yaml).

AZ a (the Patroni leader, an etcd member, an app replica, a MinIO node) loses its network link
to the other AZs for 30 s; its members keep running and talk among themselves. What it shows:

- fencing: the old primary loses the etcd quorum and stops taking writes; the synchronous standby
  in AZ b is promoted once the leader key expires (Patroni's ttl, 20 s), like RDS Multi-AZ;
- the heal is not a second outage: the old primary rejoins as a standby, and the new one keeps
  its role (Patroni 4.0.6+ no longer trusts the rejoining etcd member's stale view of the leader);
- no acknowledged write is lost.
"""

from __future__ import annotations

import time

import pytest

from pytest_azchaos.workloads import example_app

SETTLE_S = 2.0  # writes in flight when the partition heals may still fail; none after this


@pytest.mark.slo(failed_requests=None, failover_time="120s", lost_writes=0)  # writes fail until the failover
def test_a_healed_partition_causes_no_second_outage(azchaos):
    with azchaos.traffic(rate_per_s=20, workload=example_app(reads=1, writes=3, object_puts=0, object_gets=0)):
        azchaos.wait("2s")
        partition = azchaos.outage("a", mode="network")
        azchaos.wait("30s")
        healing = time.monotonic()
        partition.heal()  # AZ a rejoins; returns once the region is whole again (old primary streaming)
        azchaos.wait("5s")
    late = [op for op in azchaos.history.operations
            if op.kind == "write" and op.scheduled > healing + SETTLE_S and op.outcome != "ok"]
    assert not late, (f"{len(late)} writes failed more than {SETTLE_S:g} s after the partition began to heal, "
                      f"first at {late[0].scheduled - healing:+.1f} s: {late[0].error or late[0].status}")
