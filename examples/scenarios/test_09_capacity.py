"""Scenario 9: capacity is restored after an AZ is lost (run with examples/scenarios/autoscaling.yaml).

Rehearses an Auto Scaling group spread over three AZs: when AZ a loses power, its instance is
replaced in a surviving AZ (AWS: about three minutes), so the region is back to its capacity
while the AZ is still down. The region of autoscaling.yaml replaces an app replica that stays
down for 10 s. What it measures, under 20 req/s:

- ``capacity_restored``: from the power loss to the moment as many app replicas are running and
  healthy as before it (the replacement registered with the load balancer), within 60 s;
- ``failed_requests``: 0 meanwhile (the load balancer routes around the lost AZ).

    .venv/bin/pytest examples/scenarios/test_09_capacity.py --azchaos-env=examples/scenarios/autoscaling.yaml

Negative twin (tests/integration/test_scenario_twins.py): the same region without
``replace_after`` never gets its capacity back, and ``capacity_restored`` breaks.
"""

from __future__ import annotations

import time

import pytest

RESTORED_S = 60.0

pytestmark = pytest.mark.autoscaling


@pytest.mark.slo(failed_requests=0)
def test_capacity_is_restored_while_an_az_is_down(azchaos, capacity_watch, figures):
    with azchaos.traffic(rate_per_s=20), capacity_watch:
        azchaos.wait("2s")
        with azchaos.outage("a", mode="power"):
            lost = time.monotonic()
            while capacity_watch.restored_after(lost) == float("inf") and time.monotonic() < lost + RESTORED_S:
                azchaos.wait("1s")
            healed = time.monotonic()  # AZ a's own replica coming back restores nothing
        azchaos.wait("2s")
    restored = capacity_watch.restored_after(lost, before=healed)
    figures("capacity_restored", restored, RESTORED_S, f"{capacity_watch.lowest_after(lost)} of "
            f"{capacity_watch.capacity} app replicas healthy after AZ a was lost (does the app service set "
            "replace_after?)", unit="s")
