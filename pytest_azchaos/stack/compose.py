"""Export a stack as a Docker Compose file: the same containers, networks, labels and files.

It is what a hand-rolled compose setup of the same region looks like, so that
``docker compose up --wait`` can be compared with ``azchaos up`` (bench/), and
so that people can take the region elsewhere. Compose knows no faults, no
failover order and no readiness beyond healthchecks: those stay ours.
"""

from __future__ import annotations

from typing import Any

import yaml

from .model import REGIONAL, Member
from .roles import ROLES
from .stack import Stack

# Healthchecks (each role's probe) check what `azchaos up` waits for, so that `docker compose up
# --wait` means the same "ready": a Patroni leader and a (synchronous) standby, MinIO with write
# quorum, the app's health path.


def export(stack: Stack, refs: dict[tuple[str, str], str]) -> str:
    """Return a compose file (YAML) for ``stack``, with image references ``refs`` per (service, role)."""
    services: dict[str, Any] = {}
    configs: dict[str, Any] = {}
    for member in stack.members_all:
        role = ROLES[member.role]
        service: dict[str, Any] = {
            "image": refs[(member.service, member.role)],
            "hostname": member.alias,
            "labels": {"azchaos.az": member.az, "azchaos.role": member.role, "azchaos.service": member.service},
            "environment": _environment(stack, member),
            "networks": _networks(stack, member),
            "ports": [f"127.0.0.1::{port}" for port in role.ports(stack, member)],
            "healthcheck": {"test": ["CMD-SHELL", role.probe(stack, member)], "interval": "1s", "timeout": "2s",
                            "retries": 120},
        }
        command = role.command(stack, member)
        if command:
            service["command"] = command
        files = role.files(stack, member)
        if files:
            service["configs"] = []
            for i, (path, content) in enumerate(files.items()):
                name = f"{member.alias}-{i}"
                configs[name] = {"content": content.replace("$", "$$")}  # compose interpolates $name
                service["configs"].append({"source": name, "target": path})
        depends_on = role.depends_on(stack, member)  # the start order of `azchaos up`
        if depends_on:
            service["depends_on"] = depends_on
        services[member.alias] = service
    networks: dict[str, Any] = {"region": {}, **{az: {} for az in stack.topology.azs}}
    document = {"name": f"azchaos-{stack.topology.name}", "services": services, "networks": networks,
                "configs": configs}
    return "# Exported by `azchaos export compose` from " + str(stack.topology.path) + "\n" + yaml.safe_dump(
        document, sort_keys=False, width=120)


def _environment(stack: Stack, member: Member) -> dict[str, str]:
    env = {"AZCHAOS_AZ": member.az, "AZCHAOS_REPLICA": member.alias, "PORT": str(member.port)}
    env.update(ROLES[member.role].environment(stack, member))
    env.update(dict(stack.topology.service(member.service).environment))
    return env


def _networks(stack: Stack, member: Member) -> dict[str, Any]:
    networks: dict[str, Any] = {"region": {"aliases": [member.alias]}}
    if member.az != REGIONAL:
        networks[member.az] = {"aliases": [member.alias, *stack.az_aliases(member)]}
    return networks
