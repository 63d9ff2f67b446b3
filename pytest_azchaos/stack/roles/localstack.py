"""S3 served by LocalStack: the AWS-flavoured object store (environments/localstack.yaml).

One regional member, like S3's regional endpoint as a client sees it; it stands in for an ``s3``
service wherever one is referenced (the apps, the LB's S3 port). Unlike MinIO it has no AZs,
drives or quorum to lose, and it does not check credentials (docs/stack.md).
"""

from __future__ import annotations

from typing import Any

from ..model import Member, StackView
from .base import HTTP_200, Role, http_json
from .s3 import ensure_bucket

HEALTH = "/_localstack/health"
UP = ("available", "running")


class LocalStackRole(Role):
    name = "localstack"
    default_port = 4566
    order = 2
    regional = True
    provides = ("s3",)
    options = {"bucket": "azchaos"}

    def environment(self, stack: StackView, member: Member) -> dict[str, str]:
        return {"SERVICES": "s3", "GATEWAY_LISTEN": f"0.0.0.0:{member.port}", "AWS_DEFAULT_REGION": "us-east-1"}

    def not_ready(self, stack: StackView, members: list[Member]) -> list[str]:
        pending = [m.alias for m in members if s3_state(stack, m) not in UP]
        if pending:
            return pending
        return [] if all(ensure_bucket(stack, m) for m in members) else [f"{members[0].alias}: bucket not created yet"]

    def not_steady(self, stack: StackView, members: list[Member]) -> list[str]:
        return [f"{m.alias}: S3 is {s3_state(stack, m)}" for m in members if s3_state(stack, m) not in UP]

    def status(self, stack: StackView, members: list[Member]) -> dict[str, Any]:
        return {"s3": s3_state(stack, members[0])} if members else {}

    def probe(self, stack: StackView, member: Member) -> str:
        return HTTP_200 % (member.port, HEALTH)


def s3_state(stack: StackView, member: Member) -> str:
    """LocalStack's own word on its S3 service ("available", "running"...), or "not answering"."""
    health = http_json(stack.url(member, member.port, HEALTH), timeout_s=2) or {}
    return str(health.get("services", {}).get("s3", "not answering"))
