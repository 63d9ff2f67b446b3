"""Auto scaling: a replica that stays down is replaced in a surviving AZ and registered with the LB."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from pytest_azchaos import Stack, load

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("leaves_nothing_behind")
def test_dead_replicas_are_replaced_in_a_surviving_az(tmp_path: Path) -> None:
    env = tmp_path / "scaling.yaml"
    text = (ROOT / "environments" / "minimal.yaml").read_text()
    env.write_text(f"images: {ROOT / 'environments' / 'images'}\n"
                   + text.replace("    health: /healthz\n", "    health: /healthz\n    replace_after: 2s\n"))
    stack = Stack(load(env), progress=print).up()
    try:
        dead = stack.members(az="a", role="app")
        stack.backend.kill([m.container for m in dead])
        deadline = time.monotonic() + 60
        # An event is recorded once a replacement is healthy and registered with the LB.
        while stack.scaling is None or len(stack.scaling.events) < 2:
            assert time.monotonic() < deadline, "no replacement within 60 s"
            time.sleep(0.5)
        replacements = [m for m in stack.members(role="app") if m.replacement]
        assert {m.az for m in replacements} == {"b"}
        assert all(stack.is_healthy(m) for m in replacements)
        served = {requests.get(stack.lb_url + "/", timeout=5).json()["replica"] for _ in range(30)}
        assert {m.alias for m in replacements} <= served
    finally:
        stack.down()
