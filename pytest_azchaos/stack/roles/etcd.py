"""etcd: the consensus store Patroni elects its leader in, one member per AZ."""

from __future__ import annotations

from typing import Any

from ..model import Member, StackView
from .base import Role, http_json


class EtcdRole(Role):
    name = "etcd"
    default_port = 2379
    order = 0

    def command(self, stack: StackView, member: Member) -> list[str]:
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

    def not_ready(self, stack: StackView, members: list[Member]) -> list[str]:
        return [m.alias for m in members if (http_json(stack.url(m, m.port, "/health")) or {}).get("health") != "true"]

    def status(self, stack: StackView, members: list[Member]) -> dict[str, Any]:
        healthy = [m.alias for m in members if stack.is_running(m) and not self.not_ready(stack, [m])]
        return {"members": len(members), "healthy": healthy}

    def probe(self, stack: StackView, member: Member) -> str:
        return "ETCDCTL_API=3 etcdctl endpoint health"
