"""Scenario 4: every link into one AZ gets 100-300 ms of latency (200 ms +- 100 ms of jitter).

Rehearses a degraded inter-AZ network, the slow path that is not an outage: the load balancer
still reaches AZ c's app replica, and that replica still reaches the DB and S3, but every chunk
of data on those links is 100-300 ms late. Nothing fails and no health check notices; what
suffers is latency. What it measures, per percentile, for 20 s under item reads and writes:

- ``p50`` stays low, because two AZs of three are fast; ``p90`` and ``p99`` carry the slow AZ
  (a request through it pays the latency on the LB link and on each DB round trip);
- what synchronous replication costs writes: ``p50[write]`` and ``p99[write]`` against the
  same figures of reads (a write commits only once the standby in AZ b has flushed it).

The replication stream itself crosses no Toxiproxy link in the default region, so this
latency does not reach the synchronous commit (docs/scenarios.md: the engine change it needs).

Negative twin (tests/integration/test_scenario_twins.py): with every AZ slow there is no fast
majority, and ``p50`` breaks.
"""

from __future__ import annotations

import pytest

from pytest_azchaos import LinkToxic
from pytest_azchaos.checks import percentile
from pytest_azchaos.workloads import example_app

SLOW_AZS = ("c",)
LATENCY = (("jitter", 100), ("latency", 200))  # ms: 100 to 300 ms per chunk of data


def slow_links(stack, az):
    """The links into ``az``: from the LB to its app replicas, from them to the DB and S3."""
    apps = [m.alias for m in stack.members(role="app", az=az)]
    return [f"{az}/lb->{app}" for app in apps] + [f"{az}/app->db", f"{az}/app->s3"]


@pytest.mark.slo(failed_requests=0, p50="150ms", p90="2s", p99="3s")
def test_latency_into_one_az_stays_within_budget_per_percentile(azchaos, figures):
    links = [link for az in SLOW_AZS for link in slow_links(azchaos.stack, az)]
    toxics = [LinkToxic(link, "latency", LATENCY, 1.0, "downstream") for link in links]
    # 7 operations per cycle, not 9: with a multiple of 3 each kind would always meet the same
    # replica of the LB's round robin over three AZs, and writes might never cross the slow AZ.
    # Items only: an upload through the slow AZ pays the latency on S3's 100-continue as well, and
    # on a busy host some then hit the LB's 5 s timeout (docs/scenarios.md).
    workload = example_app(reads=4, writes=3, object_puts=0, object_gets=0)
    with azchaos.traffic(rate_per_s=30, workload=workload):
        azchaos.wait("3s")
        with azchaos.combined(*toxics):
            azchaos.wait("20s")
    for kind in ("read", "write"):
        ops = [op.latency for op in azchaos.history.operations if op.kind == kind and op.outcome == "ok"]
        figures(f"p50[{kind}]", percentile(ops, 50), 1.0, unit="s")
        figures(f"p99[{kind}]", percentile(ops, 99), 3.0, unit="s")
