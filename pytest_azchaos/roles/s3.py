"""S3: MinIO in distributed mode, one node per AZ with several drives each, erasure-coded.

With N drives and parity P, MinIO reads with N - P drives and writes with N - P
(N - P + 1 when P = N / 2). Losing the AZ with the most drives must leave both.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import requests

from .base import Role, http_ok

if TYPE_CHECKING:
    from ..stack import Member, Stack
    from ..topology import ServiceSpec


def quorum(spec: ServiceSpec) -> dict[str, Any]:
    """Return the erasure-coding arithmetic of an s3 service: drives, parity, quorums, AZ-loss survival."""
    per_node = int(spec.options["drives_per_node"])
    drives = per_node * spec.replicas_per_az * len(spec.azs)
    parity = int(spec.options["parity"] or (2 if drives <= 5 else 3 if drives <= 7 else 4))
    read = drives - parity
    write = read + 1 if parity * 2 == drives else read
    left = drives - per_node * spec.replicas_per_az
    return {"drives": drives, "parity": parity, "read_quorum": read, "write_quorum": write,
            "survives_az_loss": {"read": left >= read, "write": left >= write}}


class S3Role(Role):
    name = "s3"

    def command(self, stack: Stack, member: Member) -> list[str]:
        spec = stack.topology.service(member.service)
        drives = int(spec.options["drives_per_node"])
        endpoints = [f"http://{m.alias}:{m.port}/data{d}" for m in stack.members(service=member.service)
                     for d in range(1, drives + 1)]
        return ["minio", "server", "--address", f":{member.port}", *endpoints]

    def environment(self, stack: Stack, member: Member) -> dict[str, str]:
        spec = stack.topology.service(member.service)
        return {
            "MINIO_ROOT_USER": stack.secret("s3_access_key"),
            "MINIO_ROOT_PASSWORD": stack.secret("s3_secret_key"),
            "MINIO_STORAGE_CLASS_STANDARD": f"EC:{quorum(spec)['parity']}",
            # The drives are folders of the container's root disk, which MinIO refuses
            # in distributed mode unless told this is a test deployment.
            "MINIO_CI_CD": "on",
            "MINIO_PROMETHEUS_AUTH_TYPE": "public",
            "MINIO_BROWSER": "off",
        }

    def not_ready(self, stack: Stack, members: list[Member]) -> list[str]:
        pending = [m.alias for m in members if not http_ok(stack.url(m, m.port, "/minio/health/live"))]
        if pending:
            return pending
        online, total = self.drives(stack, members)
        if total and online < total:
            return [f"s3: {online}/{total} drives online"]
        cluster = stack.url(members[0], members[0].port, "/minio/health/cluster")
        return [] if http_ok(cluster) else ["s3: no write quorum yet"]

    def drives(self, stack: Stack, members: list[Member]) -> tuple[int, int]:
        """Return (online, total) drives from MinIO's cluster metrics, asked of a running node."""
        for member in members:
            if not stack.is_running(member):
                continue
            try:
                text = requests.get(stack.url(member, member.port, "/minio/v2/metrics/cluster"), timeout=2).text
            except requests.RequestException:
                continue
            online = _metric_sum(text, "minio_cluster_health_erasure_set_online_drives")
            if online is not None:
                return online, int(quorum(stack.topology.service(member.service))["drives"])
        return 0, int(quorum(stack.topology.service(members[0].service))["drives"]) if members else 0

    def status(self, stack: Stack, members: list[Member]) -> dict[str, Any]:
        online, total = self.drives(stack, members)
        return {"drives_online": online, "drives_total": total, **quorum(stack.topology.service(members[0].service))}


def _metric_sum(text: str, name: str) -> int | None:
    """Sum a Prometheus metric over its labels; None when MinIO does not report it."""
    values = re.findall(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.MULTILINE)
    return int(sum(float(v) for v in values)) if values else None
