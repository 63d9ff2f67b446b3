"""The application under test: how it learns the DB and S3 endpoints (through its AZ's links),
and its health as the load balancer sees it (a target)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ...errors import StackError
from ..model import Look, Member, StackView, capacity
from .base import Role, health_path, http_ok
from .db import READ_ONLY_OFFSET


def link_address(stack: StackView, name: str) -> str | None:
    """The address of link ``name`` (``a/app->db``), or None when there is no such link."""
    return next((link.address for link in stack.links() if link.name == name), None)


class AppRole(Role):
    name = "app"
    default_port = 8080
    order = 4
    options = {"db": None, "s3": None, "links": True, "replace_after": None}
    durations = frozenset({"replace_after"})
    references = {"db": "db", "s3": "s3"}

    def environment(self, stack: StackView, member: Member) -> dict[str, str]:
        spec = stack.topology.service(member.service)
        env: dict[str, str] = {}
        if spec.options.get("db"):
            env.update(self._db_environment(stack, member, spec.options["db"]))
        if spec.options.get("s3"):
            lb = stack.members(role="lb")[0]
            s3_port = stack.topology.service(lb.service).options["s3_port"]
            address = link_address(stack, f"{member.az}/app->s3") or f"{lb.alias}:{s3_port}"
            env["S3_ENDPOINT_URL"] = f"http://{address}"
            env["AWS_ACCESS_KEY_ID"] = stack.secret("s3_access_key")
            env["AWS_SECRET_ACCESS_KEY"] = stack.secret("s3_secret_key")
            env["AWS_DEFAULT_REGION"] = "us-east-1"
            env["S3_BUCKET"] = str(stack.topology.service(spec.options["s3"]).options["bucket"])
        return env

    def _db_environment(self, stack: StackView, member: Member, db: str) -> dict[str, str]:
        endpoint = stack.members(role="db-endpoint", service=db)[0]
        address = link_address(stack, f"{member.az}/app->db") or f"{endpoint.alias}:{endpoint.port}"
        password = stack.secret("db_password")
        # Reads fall back to the read-only listener (any running node) while the primary fails over.
        read_only = f"{endpoint.alias}:{endpoint.port + READ_ONLY_OFFSET}"
        return {"DATABASE_URL": f"postgresql://postgres:{password}@{address}/postgres",
                "DATABASE_READ_URL": f"postgresql://postgres:{password}@{read_only}/postgres"}

    def looks(self, stack: StackView, members: list[Member]) -> list[Look]:
        """Each replica's health as the load balancer's health checks see it, and each service's
        capacity: its healthy replicas of those declared. Replicas are counted at each look, so a
        replacement started by auto scaling counts once it is healthy."""
        services = list(dict.fromkeys(m.service for m in members))

        def look() -> dict[str, str]:
            health = _health(stack, [m for s in services for m in stack.members(service=s)])
            facts = {f"target {m.alias}": state for m, state in health.items()}
            for service in services:
                spec = stack.topology.service(service)
                healthy = sum(state == "healthy" for m, state in health.items() if m.service == service)
                facts[f"capacity {service}"] = capacity(healthy, spec.replicas_per_az * len(spec.azs))
            return facts

        return [look]

    def not_steady(self, stack: StackView, members: list[Member]) -> list[str]:
        return [f"target {m.alias} unhealthy" for m, state in _health(stack, members).items()
                if state == "unhealthy" and stack.is_running(m)]

    def probe(self, stack: StackView, member: Member) -> str:
        return ("python3 -c \"import urllib.request,os; urllib.request.urlopen("
                f"'http://127.0.0.1:{member.port}{health_path(stack, member)}', timeout=1)\"")


def _health(stack: StackView, members: list[Member]) -> dict[Member, str]:
    def one(m: Member) -> str:
        try:
            ok = stack.is_running(m) and http_ok(stack.url(m, m.port, health_path(stack, m)), timeout_s=1)
        except StackError:  # it stopped between the two questions: its port is no longer published
            ok = False
        return "healthy" if ok else "unhealthy"

    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="azchaos-health") as pool:
        return dict(zip(members, pool.map(one, members), strict=True))
