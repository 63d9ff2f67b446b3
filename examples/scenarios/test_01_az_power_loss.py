"""Scenario 1: the AZ that holds the database primary loses power, under mixed load.

Rehearses an AWS AZ outage with RDS Multi-AZ behind an ALB: every container of the primary's AZ
(a on a fresh region: the DB primary, an app replica, an etcd member, a MinIO node) dies at once. What it measures:

- no read fails: the load balancer stops sending requests to AZ a's app replica and retries
  reads on another AZ, S3 routes around AZ a's MinIO node, and item reads fall back to the
  reader endpoint while Patroni promotes the synchronous standby in AZ b;
- ``failover_time`` (fault -> first write acknowledged by the new primary) and ``write_downtime``
  (the longest stretch without an acknowledged write), both within RDS Multi-AZ's 120 s;
- no acknowledged write is lost: every row and object is read back from PostgreSQL and MinIO
  after AZ a is back.

Negative twin (tests/integration/test_slos_region.py): without the LB's retry, reads fail.
"""

from __future__ import annotations

import pytest

from pytest_azchaos.workloads import example_app


@pytest.mark.slo(
    failed_requests={"read": 0, "get_object": 0},  # reads never fail; writes may, while the primary fails over
    failover_time="120s",
    write_downtime="120s",
    lost_writes=0,
    p99="15s",
)
def test_primary_az_loses_power_under_load(azchaos, primary_az):
    with azchaos.traffic(rate_per_s=50, workload=example_app()):  # item and object reads and writes
        azchaos.wait("3s")  # a baseline before the fault
        with azchaos.outage(primary_az, mode="power"):  # the DB primary, an app replica, an etcd member, a MinIO node
            azchaos.wait("30s")  # Patroni promotes the standby once the leader key expires (ttl 20 s)
        azchaos.wait("3s")
