"""Scenario 5: half of the connections from the app to the database are dropped.

Rehearses what a failover, a NAT or proxy timeout or a flaky inter-AZ link does to the app's
pooled DB connections: for 15 s, every connection on the ``app->db`` links of all three AZs
has one chance in two of being reset 200 ms after it opens (Toxiproxy's ``reset_peer``), so
the app keeps finding connections in its pool that the network has broken. What it measures:

- the app's retries keep requests succeeding: a statement that fails on a pooled connection
  that broke is retried once on a new one (as drivers for RDS do), and item reads are retried
  with backoff; ``failed_ratio`` stays within a budget of 1 %.

Negative twin (tests/integration/test_scenario_twins.py): the same app without its retries
(tests/integration/envs/) breaks ``failed_ratio``.
"""

from __future__ import annotations

import pytest

from pytest_azchaos import LinkToxic
from pytest_azchaos.workloads import example_app

RESET = (("timeout", 200),)  # ms after a connection opens


@pytest.mark.slo(failed_requests=None, failed_ratio=0.01)
def test_dropped_db_connections_are_retried(azchaos):
    drops = [LinkToxic(f"{az}/app->db", "reset_peer", RESET, 0.5, "downstream") for az in azchaos.stack.topology.azs]
    with azchaos.traffic(rate_per_s=30, workload=example_app(reads=4, writes=3, object_puts=0, object_gets=0)):
        azchaos.wait("2s")
        with azchaos.combined(*drops):
            azchaos.wait("15s")
        azchaos.wait("2s")
