"""etcd: the consensus store Patroni elects its leader in, one member per AZ."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Role, http_json

if TYPE_CHECKING:
    from ..stack import Member, Stack


class EtcdRole(Role):
    name = "etcd"

    def command(self, stack: Stack, member: Member) -> list[str]:
        peers = stack.members(role="etcd", service=member.service)
        cluster = ",".join(f"{m.alias}=http://{m.alias}:2380" for m in peers)
        return [
            "/usr/local/bin/etcd", "--name", member.alias, "--data-dir", "/var/lib/etcd/data",
            "--listen-client-urls", f"http://0.0.0.0:{member.port}",
            "--advertise-client-urls", f"http://{member.alias}:{member.port}",
            "--listen-peer-urls", "http://0.0.0.0:2380",
            "--initial-advertise-peer-urls", f"http://{member.alias}:2380",
            "--initial-cluster", cluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", f"azchaos-{stack.run_id}",
            # Fast failure detection on one host; the defaults (100/1000 ms) suit a WAN.
            "--heartbeat-interval", "100", "--election-timeout", "1000",
        ]

    def not_ready(self, stack: Stack, members: list[Member]) -> list[str]:
        return [m.alias for m in members if (http_json(stack.url(m, m.port, "/health")) or {}).get("health") != "true"]

    def status(self, stack: Stack, members: list[Member]) -> dict[str, Any]:
        healthy = [m.alias for m in members if stack.is_running(m) and not self.not_ready(stack, [m])]
        return {"members": len(members), "healthy": healthy}
