"""The interface of a role, and what every role shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from ..stack import Member, Stack


class Role:
    """A kind of member of the stack. Subclasses override what differs."""

    name = ""
    #: container ports published on 127.0.0.1 (the first is the service port)
    extra_ports: tuple[int, ...] = ()

    def ports(self, stack: Stack, member: Member) -> tuple[int, ...]:
        return (member.port, *self.extra_ports)

    def environment(self, stack: Stack, member: Member) -> dict[str, str]:
        return {}

    def sysctls(self, stack: Stack, member: Member) -> dict[str, str]:
        """Kernel settings of the member's own network namespace (``docker run --sysctl``)."""
        return {}

    def command(self, stack: Stack, member: Member) -> list[str]:
        return list(stack.topology.service(member.service).command)

    def files(self, stack: Stack, member: Member) -> dict[str, str]:
        return {}

    def not_ready(self, stack: Stack, members: list[Member]) -> list[str]:
        """Return what is not ready yet among ``members`` (empty when all are ready)."""
        return [m.alias for m in members if not http_ok(stack.url(m, m.port, health_path(stack, m)))]

    def status(self, stack: Stack, members: list[Member]) -> Mapping[str, Any]:
        """Return role-specific facts for ``azchaos status`` (leader, drives, links...)."""
        return {}


def health_path(stack: Stack, member: Member) -> str:
    return stack.topology.service(member.service).health_path


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    """Return True if GET ``url`` answers 200 (any error is False)."""
    try:
        return requests.get(url, timeout=timeout_s).status_code == 200
    except requests.RequestException:
        return False


def http_json(url: str, timeout_s: float = 1.0) -> Any:
    """Return the JSON of GET ``url``, or None on any error."""
    try:
        response = requests.get(url, timeout=timeout_s)
        return response.json() if response.ok else None
    except (requests.RequestException, ValueError):
        return None
