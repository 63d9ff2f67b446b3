"""Planning that needs no backend: which members a topology asks for, in the order they start."""

from __future__ import annotations

import secrets

from .model import REGIONAL, Member, ServiceSpec, Topology, container_name
from .roles import ROLES


def plan(topo: Topology, run_id: str) -> list[Member]:
    """Return every member the topology asks for, dependencies first (each role declares its order)."""
    members: list[Member] = []
    for spec in sorted(topo.services, key=lambda s: ROLES[s.role].order):
        if spec.regional:
            members.append(_member(run_id, spec, spec.role, REGIONAL, 1, spec.name))
            continue
        for az in spec.azs:
            for replica in range(1, spec.replicas_per_az + 1):
                members.append(_member(run_id, spec, spec.role, az, replica, f"{spec.name}-{az}-{replica}"))
        for role in ROLES[spec.role].companions:  # e.g. the DB's endpoint, named like the service
            members.append(_member(run_id, spec, role, REGIONAL, 1, spec.name))
    return members


def _member(run_id: str, spec: ServiceSpec, role: str, az: str, replica: int, alias: str) -> Member:
    return Member(spec.name, role, az, replica, container_name(run_id, alias), alias, spec.port)


def new_run_id() -> str:
    """Return a fresh run id: short, unique, safe in Docker names."""
    return secrets.token_hex(4)


def image_names(topo: Topology, members: list[Member]) -> dict[tuple[str, str], str]:
    """Return the image (recipe or reference) of each (service, role) of ``members``."""
    return {(m.service, m.role): ROLES[m.role].image(topo.service(m.service)) for m in members}
