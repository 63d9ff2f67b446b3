"""Scenario 2: an AZ freezes under load, a gray failure rather than a clean outage.

Rehearses the AZ failures that AWS calls gray: an AZ whose storage or network layer hangs.

Every container of AZ c is paused for 10 s: its processes hang, but the kernel still completes TCP
handshakes, so nothing is refused and nothing times out fast. That is what an AZ with a failing
storage or network layer looks like from outside, and what health checks that only test "does
the port answer" miss. What it shows:

- the load balancer stops sending requests to the frozen replica after the first one timed out
  (its passive check), and retries that request on a replica in another AZ: no read sent after
  the ejection window (3 s) fails;
- the example app answers within ~4 s whatever its dependencies do, so replicas in healthy AZs
  are never taken for dead;
- S3 (MinIO across the three AZs) gives up on the frozen node's drives after 3 s, so object reads
  and writes keep working on the other two AZs;
- after the freeze, every acknowledged row and object is still there; p99 stays within 15 s.

Negative twin (tests/integration/test_slos_region.py): without the LB's retry, reads fail after
the ejection window (``late_failed_reads``).
"""

from __future__ import annotations

import time

import pytest

from pytest_azchaos.workloads import example_app

EJECTION_S = 3.0  # docs/stack.md: requests already sent to the frozen replica may fail; none after this


@pytest.mark.slo(
    failed_requests=None,  # writes may fail while the frozen node hangs; reads are checked below
    lost_writes=0,
    p99="15s",
)
def test_a_frozen_az_is_routed_around(azchaos, figures):
    with azchaos.traffic(rate_per_s=30, workload=example_app()):
        azchaos.wait("3s")  # a baseline before the fault
        freeze = azchaos.outage("c", mode="freeze")  # an app replica, an etcd member, a MinIO node, a Toxiproxy
        frozen = time.monotonic()
        azchaos.wait("10s")
        freeze.heal()
        azchaos.wait("3s")
    late = [op for op in azchaos.history.operations
            if op.action == "read" and op.scheduled > frozen + EJECTION_S and op.outcome != "ok"]
    why = (f"reads failed after the ejection window ({EJECTION_S:g} s), the first at "
           f"{late[0].scheduled - frozen:+.1f} s: {late[0].kind} {late[0].error or late[0].status}") if late else ""
    figures("late_failed_reads", len(late), 0, why)
