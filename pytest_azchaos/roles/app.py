"""The application under test: how it learns the DB and S3 endpoints (through its AZ's links)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Role
from .db import READ_ONLY_OFFSET
from .toxiproxy import link_for

if TYPE_CHECKING:
    from ..stack import Member, Stack


class AppRole(Role):
    name = "app"

    def environment(self, stack: Stack, member: Member) -> dict[str, str]:
        spec = stack.topology.service(member.service)
        env: dict[str, str] = {}
        if spec.options.get("db"):
            endpoint = stack.members(role="db-endpoint", service=spec.options["db"])[0]
            link = link_for(stack, f"{member.az}/app->db")
            address = link.address if link else f"{endpoint.alias}:{endpoint.port}"
            env["DATABASE_URL"] = f"postgresql://postgres:{stack.secret('db_password')}@{address}/postgres"
            # Reads fall back to the read-only listener (any running node) while the primary fails over.
            read_only = f"{endpoint.alias}:{endpoint.port + READ_ONLY_OFFSET}"
            env["DATABASE_READ_URL"] = f"postgresql://postgres:{stack.secret('db_password')}@{read_only}/postgres"
        if spec.options.get("s3"):
            lb = stack.members(role="lb")[0]
            link = link_for(stack, f"{member.az}/app->s3")
            s3_port = stack.topology.service(lb.service).options["s3_port"]
            env["S3_ENDPOINT_URL"] = f"http://{link.address if link else f'{lb.alias}:{s3_port}'}"
            env["AWS_ACCESS_KEY_ID"] = stack.secret("s3_access_key")
            env["AWS_SECRET_ACCESS_KEY"] = stack.secret("s3_secret_key")
            env["AWS_DEFAULT_REGION"] = "us-east-1"
            env["S3_BUCKET"] = str(stack.topology.service(spec.options["s3"]).options["bucket"])
        return env
