"""Scenario 5: the app's connections to the database are dropped, again and again.

Rehearses what an RDS failover, a proxy restart or a NAT that forgets its flows does to an app
with a connection pool: every open connection is closed under it, and the app finds out only when
it next uses one. Eight times, 1.5 s apart, every connection on the ``app->db`` links of the three
AZs is dropped (each link's proxy in turn is cut and restored at once: Toxiproxy closes both ends
of each connection), under 30 req/s of item reads and writes. What it measures:

- the app's retries keep requests succeeding: a statement that fails on a pooled connection
  that broke is retried once on a new one (as drivers for RDS do), and item reads are retried
  with backoff; ``failed_ratio`` stays within a budget of 2 % (only requests that meet the link
  in the instant it is cut may fail).

Why not Toxiproxy's ``reset_peer``: it resets a connection only when data flows through it while
the toxic is on, and decides once per connection whether to, so a pool soon holds only the
connections it spares and idle ones are never dropped (docs/scenarios.md).

Negative twin (tests/integration/test_scenario_twins.py): the same app without its retries
breaks ``failed_ratio``: each drop fails one request per pooled connection.
"""

from __future__ import annotations

import pytest

from pytest_azchaos import LinkCut
from pytest_azchaos.workloads import example_app

DROPS = 8


@pytest.mark.slo(failed_requests=None, failed_ratio=0.02)
def test_dropped_db_connections_are_retried(azchaos):
    with azchaos.traffic(rate_per_s=30, workload=example_app(reads=1, writes=3, object_puts=0, object_gets=0)):
        azchaos.wait("2s")
        for _ in range(DROPS):
            for az in azchaos.stack.topology.azs:  # one link at a time: each is cut for an instant only
                azchaos.inject(LinkCut(f"{az}/app->db")).heal()  # open connections closed, new ones accepted
            azchaos.wait("1.5s")
        azchaos.wait("1s")
