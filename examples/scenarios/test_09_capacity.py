"""Scenario 9: capacity is restored after an AZ is lost (run with examples/scenarios/autoscaling.yaml).

Rehearses an Auto Scaling group spread over three AZs: when AZ a loses power, its instance is
replaced in a surviving AZ (AWS: about three minutes), so the region is back to its capacity
while the AZ is still down. The region of autoscaling.yaml replaces an app replica that stays
down for 10 s. What it measures, under 20 req/s:

- ``capacity_restored``: from the power loss to the moment the app's healthy replicas are back to
  their declared number while AZ a is still down (the replacement registered with the load
  balancer), within 60 s; the watch counts them on the timeline (``capacity`` events);
- ``failed_requests``: 0 meanwhile (the load balancer routes around the lost AZ).

    .venv/bin/pytest examples/scenarios/test_09_capacity.py --azchaos-env=examples/scenarios/autoscaling.yaml

Negative twin (tests/integration/test_scenario_twins.py): the same region without
``replace_after`` never gets its capacity back, and ``capacity_restored`` breaks.
"""

from __future__ import annotations

import time

import pytest

RESTORED = "60s"

pytestmark = pytest.mark.autoscaling


def restored(azchaos):
    """Whether capacity was lost and is back. While the outage acts and the watch (it looks every
    second) has not seen the loss yet, the SLO proves nothing and does not pass."""
    return azchaos.evaluate({"capacity_restored": RESTORED})[0].passed


@pytest.mark.slo(failed_requests=0, capacity_restored=RESTORED)
def test_capacity_is_restored_while_an_az_is_down(azchaos):
    with azchaos.traffic(rate_per_s=20):
        azchaos.wait("2s")
        with azchaos.outage("a", mode="power"):
            lost = time.monotonic()
            # Keep the AZ down until the replacement is in (the SLO passes) or the budget is spent:
            # AZ a's own replica coming back would restore nothing.
            while not restored(azchaos) and time.monotonic() < lost + 60:
                azchaos.wait("1s")
        azchaos.wait("2s")
