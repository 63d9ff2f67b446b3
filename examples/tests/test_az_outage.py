"""Resilience tests of the example app; `make demo` runs them against a real stack.

Each test drives real traffic through the load balancer while it breaks the
region, and declares its SLOs on a marker: they are checked when the test ends.
"""

from __future__ import annotations

import pytest


@pytest.mark.slo(failed_requests=0)
def test_reads_survive_power_loss_of_az_a(azchaos):
    """AZ a loses power under 50 req/s: the load balancer routes around it, no read fails."""
    with azchaos.traffic(rate_per_s=50):
        azchaos.wait("2s")  # a baseline before the fault
        with azchaos.outage("a", mode="power"):
            azchaos.wait("10s")
        azchaos.wait("2s")  # and after AZ a is back
