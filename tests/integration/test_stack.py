"""The minimal stack for real: labels, loopback-only ports, AZ outages, cleanup."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import requests

from pytest_azchaos import AzOutage, ConfigError, Nemesis, Stack, Timeline, load
from pytest_azchaos.backend import LABEL_AZ, LABEL_ROLE, LABEL_RUN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    running = Stack(load(ROOT / "environments" / "minimal.yaml"), progress=lambda m: None).up()
    yield running
    running.down()


def test_every_object_is_labelled(stack: Stack, docker_client: docker.DockerClient) -> None:
    selector = {"label": f"{LABEL_RUN}={stack.run_id}"}
    containers = docker_client.containers.list(all=True, filters=selector)
    assert len(containers) == 5
    for container in containers:
        assert container.labels[LABEL_AZ] in ("a", "b", "region")
        assert container.labels[LABEL_ROLE] in ("app", "lb")
    networks = {n.name for n in docker_client.networks.list(filters=selector)}
    assert networks == {f"azchaos-{stack.run_id}-{az}" for az in ("region", "a", "b")}


def test_ports_are_published_on_loopback_only(stack: Stack, docker_client: docker.DockerClient) -> None:
    containers = docker_client.containers.list(filters={"label": f"{LABEL_RUN}={stack.run_id}"})
    host_ips = {container.name: {b["HostIp"] for bindings in container.attrs["NetworkSettings"]["Ports"].values()
                                 for b in bindings or [{"HostIp": "unbound"}]}
                for container in containers}
    # Every member, and each of its ports, bound to 127.0.0.1 only (an empty run would prove nothing).
    assert set(host_ips) == {m.container for m in stack.members()}
    assert host_ips == {name: {"127.0.0.1"} for name in host_ips}


def test_lb_spreads_requests_over_both_azs(stack: Stack) -> None:
    azs = {requests.get(stack.lb_url + "/", timeout=2).json()["az"] for _ in range(20)}
    assert azs == {"a", "b"}


def test_power_outage_kills_the_az_and_heal_brings_it_back(stack: Stack) -> None:
    nemesis = Nemesis(stack, Timeline())
    with nemesis.inject(AzOutage("a", mode="power")):
        assert {stack.backend.state(m.container) for m in stack.members(az="a")} == {"exited"}
        assert {stack.backend.state(m.container) for m in stack.members(az="b")} == {"running"}
        assert {requests.get(stack.lb_url + "/", timeout=5).json()["az"] for _ in range(10)} == {"b"}
    assert all(stack.is_healthy(m) for m in stack.members())
    assert {requests.get(stack.lb_url + "/", timeout=2).json()["az"] for _ in range(30)} == {"a", "b"}
    assert [e.kind for e in nemesis.timeline.events] == ["inject", "heal"]


def test_freeze_pauses_the_az_and_heal_unpauses(stack: Stack) -> None:
    nemesis = Nemesis(stack, Timeline())
    with nemesis.inject(AzOutage("b", mode="freeze")):
        assert {stack.backend.state(m.container) for m in stack.members(az="b")} == {"paused"}
    assert {stack.backend.state(m.container) for m in stack.members(az="b")} == {"running"}


def test_unknown_az_is_refused_before_anything_changes(stack: Stack) -> None:
    nemesis = Nemesis(stack, Timeline())
    with pytest.raises(ConfigError, match="unknown AZ 'c'"):
        nemesis.inject(AzOutage("c"))
    assert nemesis.timeline.events == []
    assert all(stack.backend.state(m.container) == "running" for m in stack.members())
