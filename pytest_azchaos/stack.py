"""The running stack built from a topology: start it, find its members, stop it.

Example::

    stack = Stack(topology.load("environments/default.yaml")).up()
    stack.lb_url            # 'http://127.0.0.1:49153'
    stack.members(az="a")   # the containers of AZ a
    stack.down()
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import topology
from .backend import LABEL_AZ, LABEL_ROLE, LABEL_RUN, Backend, ContainerSpec, DockerBackend
from .errors import ConfigError, StackError
from .images import ImageSet
from .roles import ROLES
from .roles.db import READ_ONLY_OFFSET, DbRole
from .roles.lb import render as render_lb
from .scaling import AutoScaling
from .topology import REGIONAL, ServiceSpec, Topology

Progress = Callable[[str], None]
LABEL_SERVICE = "azchaos.service"
LABEL_ENV = "azchaos.env"
LABEL_SECRETS = "azchaos.secrets"
SECRET_NAMES = ("db_password", "replication_password", "s3_access_key", "s3_secret_key")


@dataclass(frozen=True)
class Member:
    """One container of the stack: a replica of a service in an AZ."""

    service: str
    role: str
    az: str
    replica: int
    container: str
    alias: str
    port: int
    replacement: bool = False  # started by auto scaling in place of a dead replica

    def labels(self, run_id: str, env_path: Path) -> dict[str, str]:
        return {LABEL_RUN: run_id, LABEL_AZ: self.az, LABEL_ROLE: self.role,
                LABEL_SERVICE: self.service, LABEL_ENV: str(env_path)}


_ORDER = ("etcd", "db", "s3", "toxiproxy", "app", "lb")


def plan(topo: Topology, run_id: str) -> list[Member]:
    """Return every member the topology asks for, dependencies first."""
    members: list[Member] = []
    for spec in sorted(topo.services, key=lambda s: _ORDER.index(s.role)):
        if spec.regional:
            members.append(_member(run_id, spec, spec.role, REGIONAL, 1, spec.name))
            continue
        for az in spec.azs:
            for replica in range(1, spec.replicas_per_az + 1):
                members.append(_member(run_id, spec, spec.role, az, replica, f"{spec.name}-{az}-{replica}"))
        if spec.role == "db":  # one endpoint that follows the leader, like the RDS endpoint
            members.append(_member(run_id, spec, "db-endpoint", REGIONAL, 1, spec.name))
    return members


def _member(run_id: str, spec: ServiceSpec, role: str, az: str, replica: int, alias: str) -> Member:
    return Member(spec.name, role, az, replica, f"azchaos-{run_id}-{alias}", alias, spec.port)


def new_run_id() -> str:
    """Return a fresh run id: short, unique, safe in Docker names."""
    return secrets.token_hex(4)


class Stack:
    """A running (or about to run) multi-AZ stack."""

    def __init__(
        self,
        topo: Topology,
        *,
        run_id: str | None = None,
        backend: Backend | None = None,
        images_mode: str = "auto",
        progress: Progress = print,
        secrets_: dict[str, str] | None = None,
    ) -> None:
        self.topology = topo
        self.run_id = run_id or new_run_id()
        self.backend: Backend = backend or DockerBackend()
        self.images_mode = images_mode
        self.progress = progress
        self.members_all = plan(topo, self.run_id)
        self.secrets = secrets_ or {name: secrets.token_urlsafe(18) for name in SECRET_NAMES}
        self._ports: dict[tuple[str, int], int] = {}
        self.scaling: AutoScaling | None = None

    @classmethod
    def attach(cls, run_id: str, *, backend: Backend | None = None, progress: Progress = print) -> Stack:
        """Return the running stack of ``run_id`` (started by another process)."""
        backend = backend or DockerBackend()
        labels = backend.labels_of_run(run_id)
        if not labels:
            raise StackError(f"no stack with run id {run_id!r} is running (see 'azchaos status')")
        stored = next((json.loads(lab[LABEL_SECRETS]) for lab in labels if LABEL_SECRETS in lab), None)
        return cls(topology.load(labels[0][LABEL_ENV]), run_id=run_id, backend=backend,
                   progress=progress, secrets_=stored)

    # -- finding things ------------------------------------------------------

    def members(self, *, az: str | None = None, role: str | None = None, service: str | None = None) -> list[Member]:
        """Return the members in ``az``, of ``role`` and/or of ``service``; unknown values are a ConfigError."""
        if az is not None and az != REGIONAL:
            self.topology.check_az(az)
        if role is not None and role not in ROLES:
            raise ConfigError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
        return [m for m in self.members_all
                if az in (None, m.az) and role in (None, m.role) and service in (None, m.service)]

    def container_of(self, alias: str) -> str:
        return f"azchaos-{self.run_id}-{alias}"

    def secret(self, name: str) -> str:
        return self.secrets[name]

    @property
    def lb(self) -> Member:
        found = self.members(role="lb")
        if not found:
            raise ConfigError(f"{self.topology.path}: this environment has no load balancer (role lb)")
        return found[0]

    @property
    def lb_url(self) -> str:
        """The load balancer's URL on 127.0.0.1."""
        return self.url(self.lb, self.lb.port)

    def host_port(self, member: Member, port: int | None = None) -> int:
        """Return the 127.0.0.1 port that ``member``'s ``port`` (default: its service port) is published on."""
        key = (member.container, port or member.port)
        if key not in self._ports:
            self._ports[key] = self.backend.published_port(*key)
        return self._ports[key]

    def url(self, member: Member, port: int, path: str = "") -> str:
        """Return http://127.0.0.1:<published port><path> for a member's container port."""
        return f"http://127.0.0.1:{self.host_port(member, port)}{path}"

    def forget_ports(self, members: Sequence[Member]) -> None:
        """Forget the published ports of ``members``: a restarted container gets new ones."""
        names = {m.container for m in members}
        self._ports = {k: v for k, v in self._ports.items() if k[0] not in names}

    def is_running(self, member: Member) -> bool:
        return self.backend.state(member.container) == "running"

    # -- lifecycle -----------------------------------------------------------

    def up(self, *, timeout_s: float = 240) -> Stack:
        """Build missing images, start every member and wait until the stack is ready."""
        refs = self.resolve_images()
        started = time.monotonic()  # builds take what they take; the timeout is for starting
        self.progress(f"starting stack {self.run_id} ({self.topology.name}: {len(self.members_all)} containers)")
        try:
            self._create_networks()
            for member in self.members_all:
                self.backend.create(self._container_spec(member, refs[(member.service, member.role)]))
            self._start_in_waves(deadline=started + timeout_s)
            self.wait_ready(self.members_all, deadline=started + timeout_s)
        except BaseException:
            self.progress(f"stack {self.run_id} did not start; removing what was created")
            self.down()
            raise
        self.progress(f"stack {self.run_id} ready in {time.monotonic() - started:.1f} s at {self.lb_url}")
        self.scaling = AutoScaling.start_for(self, refs)
        return self

    def _start_in_waves(self, *, deadline: float) -> None:
        """Start everything at once but for two orderings that matter.

        The first DB node (AZ a) must win Patroni's bootstrap race to be the primary,
        as the environment declares: the others start once it holds the cluster's
        initialize key in etcd (they then wait for it to lead, and copy it). nginx refuses
        target names that do not resolve yet, so the LB starts after its targets.
        """
        db_nodes = self.members(role="db")
        later = db_nodes[1:] + self.members(role="lb")
        self.backend.start([m.container for m in self.members_all if m not in later])
        if db_nodes:
            db_role = ROLES["db"]
            assert isinstance(db_role, DbRole)
            while not db_role.initializing(self, db_nodes[0]):
                if time.monotonic() > deadline:
                    raise StackError(self._not_ready_message([db_nodes[0].alias]))
                self.not_ready([db_nodes[0]])  # raises if it crashed
                time.sleep(0.2)
        self.backend.start([m.container for m in later])

    def image_names(self) -> dict[tuple[str, str], str]:
        """Return the image (recipe or reference) of each (service, role) of the stack."""
        names = {}
        for member in self.members_all:
            spec = self.topology.service(member.service)
            names[(member.service, member.role)] = (
                spec.options["endpoint_image"] if member.role == "db-endpoint" else spec.image
            )
        return names

    def resolve_images(self) -> dict[tuple[str, str], str]:
        images = ImageSet(self.topology.images_dir, mode=self.images_mode,
                          client=getattr(self.backend, "client", None), progress=self.progress)
        refs = {}
        for (service, role), name in self.image_names().items():
            try:
                refs[(service, role)] = images.ensure(name)
            except ConfigError as exc:  # say where the image was named
                raise ConfigError(f"{self.topology.service(service).source}: {exc}") from None
        return refs

    def down(self) -> int:
        """Remove every container, network and volume of this run; return how many."""
        if self.scaling is not None:
            self.scaling.stop()
        self._ports.clear()
        return self.backend.remove_run(self.run_id)

    def network(self, az: str) -> str:
        return f"azchaos-{self.run_id}-{az}"

    def _create_networks(self) -> None:
        for az in (REGIONAL, *self.topology.azs):
            self.backend.create_network(self.network(az), {LABEL_RUN: self.run_id, LABEL_AZ: az})

    def _container_spec(self, member: Member, image: str) -> ContainerSpec:
        spec = self.topology.service(member.service)
        role = ROLES[member.role]
        networks: list[tuple[str, Sequence[str]]] = [(self.network(REGIONAL), [member.alias])]
        if member.az != REGIONAL:
            networks.insert(0, (self.network(member.az), [member.alias]))
        env = {"AZCHAOS_AZ": member.az, "AZCHAOS_REPLICA": member.alias, "PORT": str(member.port)}
        env.update(role.environment(self, member))
        env.update(dict(spec.environment))
        labels = member.labels(self.run_id, self.topology.path)
        if member.role == "lb":
            labels[LABEL_SECRETS] = json.dumps(self.secrets)
        return ContainerSpec(
            name=member.container, image=image, labels=labels, networks=networks, environment=env,
            command=role.command(self, member), publish=role.ports(self, member), files=role.files(self, member),
            sysctls=role.sysctls(self, member),
        )

    def add_member(self, member: Member, image: str) -> None:
        """Create and start one more member (a replacement), then register it with the LB when ready."""
        self.backend.create(self._container_spec(member, image))
        self.members_all.append(member)
        self.backend.start([member.container])
        self.wait_ready([member], deadline=time.monotonic() + 60)
        self.reload_lb()

    def reload_lb(self) -> None:
        """Register the running targets with the load balancer again, like an ALB after a replacement."""
        if not self.members(role="lb"):
            return
        spec = self.topology.service(self.lb.service)
        running = {m.container for m in self.members_all if self.is_running(m)}
        self.backend.put_files(self.lb.container, {"/etc/nginx/nginx.conf": render_lb(self, spec, running=running)})
        code, output = self.backend.exec(self.lb.container, ["nginx", "-s", "reload"])
        if code != 0:
            raise StackError(f"reloading the load balancer failed: {output.strip()}")

    # -- readiness -----------------------------------------------------------

    def not_ready(self, members: Sequence[Member]) -> list[str]:
        """Return what is not ready among ``members``, role by role (a role may also check its cluster)."""
        crashed = [m for m in members if self.backend.state(m.container) in ("exited", "dead", "missing")]
        if crashed:
            logs = self.backend.logs(crashed[0].container, tail=15).strip() or "(no output)"
            raise StackError(f"{crashed[0].container} stopped while starting "
                             f"({self.backend.state(crashed[0].container)}); its last log lines:\n{logs}")
        pending: list[str] = []
        for role in dict.fromkeys(m.role for m in members):
            group = [m for m in members if m.role == role]
            try:
                pending += ROLES[role].not_ready(self, group)
            except StackError:  # e.g. a port not published yet
                pending += [m.alias for m in group]
        return pending

    def is_healthy(self, member: Member) -> bool:
        """Return True if ``member``'s role reports it ready (through 127.0.0.1 ports)."""
        return self.is_running(member) and not ROLES[member.role].not_ready(self, [member])

    def wait_ready(self, members: Sequence[Member], *, deadline: float) -> None:
        """Poll until every role of ``members`` is ready; raise StackError naming what is not."""
        last_report = time.monotonic()
        while True:
            pending = self.not_ready(members)
            if not pending:
                return
            now = time.monotonic()
            if now > deadline:
                raise StackError(self._not_ready_message(pending))
            if now - last_report > 3:
                self.progress(f"waiting for {', '.join(pending)}")
                last_report = now
            time.sleep(0.2)

    def _not_ready_message(self, pending: list[str]) -> str:
        culprit = next((m for m in self.members_all if m.alias in pending or pending[0].startswith(m.role)),
                       self.members_all[0])
        state = self.backend.state(culprit.container)
        logs = self.backend.logs(culprit.container, tail=12).strip() or "(no output)"
        return f"not ready in time: {', '.join(pending)}; {culprit.container} is {state}, last log lines:\n{logs}"

    def db_writable(self, endpoint: Member) -> bool:
        """Return True if the DB endpoint accepts a connection to a primary (not in recovery)."""
        import psycopg

        try:
            with psycopg.connect(self.db_dsn(endpoint), connect_timeout=2) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                return row is not None and row[0] is False
        except psycopg.Error:
            return False

    def db_dsn(self, endpoint: Member | None = None, *, reader: bool = False) -> str:
        """Return a PostgreSQL DSN of the DB endpoint on 127.0.0.1: the writer, or with ``reader`` the
        reader endpoint (any running node, possibly stale, like an RDS reader endpoint)."""
        endpoint = endpoint or self.members(role="db-endpoint")[0]
        port = self.host_port(endpoint, endpoint.port + READ_ONLY_OFFSET if reader else None)
        return f"postgresql://postgres:{self.secret('db_password')}@127.0.0.1:{port}/postgres"

    def endpoints(self) -> dict[str, Any]:
        """Return the published endpoints, for any standard client (curl, psql, aws cli)."""
        found: dict[str, Any] = {}
        if self.members(role="lb") and self.is_running(self.lb):
            found["lb"] = self.lb_url
            spec = self.topology.service(self.lb.service)
            if spec.options.get("s3"):
                found["s3"] = {"url": self.url(self.lb, int(spec.options["s3_port"])),
                               "access_key": self.secret("s3_access_key"),
                               "secret_key": self.secret("s3_secret_key"), "region": "us-east-1",
                               "bucket": self.topology.service(spec.options["s3"]).options["bucket"]}
        endpoints = self.members(role="db-endpoint")
        if endpoints and self.is_running(endpoints[0]):
            found["db"] = self.db_dsn(endpoints[0])
            found["db_reader"] = self.db_dsn(endpoints[0], reader=True)
        return found

    def status(self) -> dict[str, Any]:
        """Return each member's state and health, role facts and the published endpoints."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            health = list(pool.map(self.is_healthy, self.members_all))
        rows = [{"container": m.container, "service": m.service, "role": m.role, "az": m.az,
                 "state": self.backend.state(m.container), "healthy": ok}
                for m, ok in zip(self.members_all, health, strict=True)]
        roles = {role: dict(ROLES[role].status(self, self.members(role=role)))
                 for role in dict.fromkeys(m.role for m in self.members_all)}
        return {"run_id": self.run_id, "environment": str(self.topology.path), "azs": list(self.topology.azs),
                "members": rows, "roles": {k: v for k, v in roles.items() if v}, "endpoints": self.endpoints()}
