"""The region loses the AZ that holds the database primary, under load (environments/default.yaml).

Run it with ``pytest examples/region`` (the default environment: three AZs,
Patroni/PostgreSQL, MinIO). What it shows:

- the load balancer stops sending requests to AZ a's app replica and retries
  reads on another AZ, and S3 routes around AZ a's MinIO node, so no read fails;
- reads of items fall back to the reader endpoint while Patroni promotes the
  synchronous standby in AZ b; writes fail until then, and the test bounds how long
  (``failover_time``: like RDS Multi-AZ's 60-120 s, but far shorter here);
- no acknowledged write is lost: every row and object is read back from
  PostgreSQL and MinIO after AZ a is back.
"""

from __future__ import annotations

import pytest

from pytest_azchaos.workloads import example_app


@pytest.mark.slo(
    failed_requests={"read": 0, "get_object": 0},  # reads never fail; writes may, while the primary fails over
    failover_time="120s",
    lost_writes=0,
    p99="15s",
)
def test_primary_az_loses_power_under_load(azchaos):
    with azchaos.traffic(rate_per_s=50, workload=example_app()):  # item and object reads and writes
        azchaos.wait("3s")  # a baseline before the fault
        with azchaos.outage("a", mode="power"):  # the DB primary, an app replica, an etcd member, a MinIO node
            azchaos.wait("30s")  # Patroni promotes the standby once the leader key expires (ttl 20 s)
        azchaos.wait("3s")
