"""Export a stack as a Docker Compose file: the same containers, networks, labels and files.

It is what a hand-rolled compose setup of the same region looks like, so that
``docker compose up --wait`` can be compared with ``azchaos up`` (bench/), and
so that people can take the region elsewhere. Compose knows no faults, no
failover order and no readiness beyond healthchecks: those stay ours.
"""

from __future__ import annotations

from typing import Any

import yaml

from .roles import ROLES
from .roles.db import PATRONI_PORT
from .stack import Member, Stack
from .topology import REGIONAL

# Healthchecks with what the images have (bash, python3, etcdctl), polled every second. They
# check what `azchaos up` waits for, so that `docker compose up --wait` means the same "ready":
# a Patroni leader and a (synchronous) standby, MinIO with write quorum, the app's health path.
_HTTP_200 = ("bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d && printf \"GET %s HTTP/1.0\\r\\n\\r\\n\" >&3 "
             "&& head -n 1 <&3 | grep -q \" 200 \"'")
_PROBES = {
    "app": "python3 -c \"import urllib.request,os; urllib.request.urlopen('http://127.0.0.1:%d%s', timeout=1)\"",
    "etcd": "ETCDCTL_API=3 etcdctl endpoint health",
    "db-endpoint": "bash -c '</dev/tcp/127.0.0.1/%d'",
    "toxiproxy": _HTTP_200.replace("%s", "/proxies"),
    "lb": "bash -c '</dev/tcp/127.0.0.1/%d'",
}


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
            "networks": _networks(member),
            "ports": [f"127.0.0.1::{port}" for port in role.ports(stack, member)],
            "healthcheck": {"test": ["CMD-SHELL", _probe(stack, member)], "interval": "1s", "timeout": "2s",
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
        first_db = stack.members(role="db", service=member.service)[:1]
        if member.role == "db" and first_db and member != first_db[0]:  # AZ a must win the bootstrap
            service["depends_on"] = {first_db[0].alias: {"condition": "service_healthy"}}
        if member.role == "lb":  # nginx refuses target names that do not resolve yet
            service["depends_on"] = {m.alias: {"condition": "service_started"}
                                     for m in stack.members_all if m.role != "lb"}
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


def _networks(member: Member) -> dict[str, Any]:
    networks: dict[str, Any] = {"region": {"aliases": [member.alias]}}
    if member.az != REGIONAL:
        networks[member.az] = {"aliases": [member.alias]}
    return networks


def _probe(stack: Stack, member: Member) -> str:
    if member.role == "app":
        return _PROBES["app"] % (member.port, stack.topology.service(member.service).health_path)
    if member.role == "db":
        return _HTTP_200 % (PATRONI_PORT, _patroni_path(stack, member))
    if member.role == "s3":
        return _HTTP_200 % (member.port, "/minio/health/cluster")
    probe = _PROBES[member.role]
    return probe % member.port if "%d" in probe else probe


def _patroni_path(stack: Stack, member: Member) -> str:
    """The first node bootstraps as the leader; the second is the sync standby when synchronous."""
    nodes = stack.members(role="db", service=member.service)
    if member == nodes[0]:
        return "/primary"
    synchronous = stack.topology.service(member.service).options["synchronous"]
    return "/sync" if synchronous and member == nodes[1] else "/replica"
