"""The stress fault (a noisy neighbour): whom it hits, the cgroup limits it sets and lifts, the CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pytest_azchaos.cli_faults import build
from pytest_azchaos.errors import ConfigError
from pytest_azchaos.faults import Stress
from pytest_azchaos.faults.registry import default_registry
from pytest_azchaos.stack import Stack
from pytest_azchaos.topology import load

ROOT = Path(__file__).resolve().parents[2]


class Api:
    def __init__(self) -> None:
        self.updates: list[tuple[str, dict[str, int]]] = []

    def update_container(self, name: str, **limits: int) -> None:
        self.updates.append((name, limits))


class FakeBackend:
    def __init__(self) -> None:
        self.client: Any = type("Client", (), {})()
        self.client.api = Api()
        self.execs: list[tuple[str, str]] = []

    def state(self, name: str) -> str:
        return "running"

    def exec(self, name: str, command: list[str]) -> tuple[int, str]:
        self.execs.append((name, command[-1]))
        return 0, ""


@pytest.fixture
def stack() -> Stack:
    return Stack(load(ROOT / "environments" / "default.yaml"), run_id="t", backend=FakeBackend())  # type: ignore[arg-type]


def test_cpu_stress_limits_each_container_of_the_az_and_heal_lifts_the_limit(stack: Stack) -> None:
    fault = Stress("a", cpu="90%")
    fault.validate(stack)
    assert fault.subject == "stress(a, cpu 90%)"
    fault.inject(stack)
    api = stack.backend.client.api  # type: ignore[attr-defined]
    quota = round(0.1 * (os.cpu_count() or 1) * 100_000)
    assert {name for name, _ in api.updates} == {m.container for m in stack.members(az="a")}
    assert all(abs(limits["cpu_quota"] - quota) <= 1 and limits["cpu_period"] == 100_000 for _, limits in api.updates)
    api.updates.clear()
    fault.heal(stack)
    assert {limits["cpu_quota"] for _, limits in api.updates} == {-1}


def test_io_stress_starts_and_stops_writers_in_one_replica(stack: Stack) -> None:
    fault = Stress("app-b-1", io=2)
    fault.inject(stack)
    fault.heal(stack)
    execs = stack.backend.execs  # type: ignore[attr-defined]
    assert [name for name, _ in execs] == ["azchaos-t-app-b-1"] * 2
    assert "-lt 2 ]" in execs[0][1] and execs[1][1].startswith("kill $(cat")


@pytest.mark.parametrize(("fields", "message"), [
    ({"where": "a"}, "stress needs cpu"),
    ({"where": "a", "cpu": "100%"}, "below 100%"),
    ({"where": "a", "cpu": "lots"}, "expected a share like 90%"),
    ({"where": "z", "cpu": "50%"}, "'z' is not an AZ, a replica, a role or 'all'"),
    ({"where": "a", "io": 99}, "0 to 8 writer processes"),
])
def test_bad_stress_is_refused(stack: Stack, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Stress(**fields).validate(stack)


def test_the_command_line_builds_it() -> None:
    import argparse

    args = argparse.Namespace(fault="stress", where="a", cpu="90%", io=0)
    fault = build(args, default_registry(plugins=False))
    assert fault == Stress("a", "90%", 0) and fault.subject == "stress(a, cpu 90%)"
