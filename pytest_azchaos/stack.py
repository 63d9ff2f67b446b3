"""The running stack built from a topology: start it, find its members, stop it.

Example::

    stack = Stack(topology.load("environments/minimal.yaml")).up()
    stack.lb_url            # 'http://127.0.0.1:49153'
    stack.members(az="a")   # the containers of AZ a
    stack.down()
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from . import resources, topology
from .backend import LABEL_AZ, LABEL_ROLE, LABEL_RUN, Backend, ContainerSpec, DockerBackend
from .errors import ConfigError, StackError
from .images import ImageSet
from .topology import REGIONAL, ServiceSpec, Topology

Progress = Callable[[str], None]
LABEL_SERVICE = "azchaos.service"
LABEL_ENV = "azchaos.env"


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

    def labels(self, run_id: str, env_path: Path) -> dict[str, str]:
        return {
            LABEL_RUN: run_id,
            LABEL_AZ: self.az,
            LABEL_ROLE: self.role,
            LABEL_SERVICE: self.service,
            LABEL_ENV: str(env_path),
        }


def plan(topo: Topology, run_id: str) -> list[Member]:
    """Return every member the topology asks for, in start order (apps before the LB)."""
    members: list[Member] = []
    for spec in sorted(topo.services, key=lambda s: s.role == "lb"):
        if spec.regional:
            alias = spec.name
            members.append(Member(spec.name, spec.role, REGIONAL, 1, f"azchaos-{run_id}-{alias}", alias, spec.port))
            continue
        for az in spec.azs:
            for replica in range(1, spec.replicas_per_az + 1):
                alias = f"{spec.name}-{az}-{replica}"
                members.append(
                    Member(spec.name, spec.role, az, replica, f"azchaos-{run_id}-{alias}", alias, spec.port)
                )
    return members


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
    ) -> None:
        self.topology = topo
        self.run_id = run_id or new_run_id()
        self.backend: Backend = backend or DockerBackend()
        self.images_mode = images_mode
        self.progress = progress
        self.members_all = plan(topo, self.run_id)
        self._ports: dict[str, int] = {}

    @classmethod
    def attach(cls, run_id: str, *, backend: Backend | None = None, progress: Progress = print) -> Stack:
        """Return the running stack of ``run_id`` (started by another process)."""
        backend = backend or DockerBackend()
        labels = backend.labels_of_run(run_id)
        if not labels:
            raise StackError(f"no stack with run id {run_id!r} is running (see 'azchaos status')")
        stack = cls(topology.load(labels[0][LABEL_ENV]), run_id=run_id, backend=backend, progress=progress)
        stack._read_ports()
        return stack

    # -- finding things ------------------------------------------------------

    def members(self, *, az: str | None = None, role: str | None = None) -> list[Member]:
        """Return the members in ``az`` and/or of ``role``; unknown values are a ConfigError."""
        if az is not None:
            self.topology.check_az(az)
        if role is not None and role not in {m.role for m in self.members_all}:
            raise ConfigError(f"unknown role {role!r}: this stack has {sorted({m.role for m in self.members_all})}")
        return [m for m in self.members_all if az in (None, m.az) and role in (None, m.role)]

    @property
    def lb(self) -> Member:
        return self.members(role="lb")[0]

    @property
    def lb_url(self) -> str:
        """The load balancer's URL on 127.0.0.1."""
        return f"http://127.0.0.1:{self.host_port(self.lb)}"

    def host_port(self, member: Member) -> int:
        """Return the 127.0.0.1 port that ``member``'s service port is published on."""
        if member.container not in self._ports:
            self._ports[member.container] = self.backend.published_port(member.container, member.port)
        return self._ports[member.container]

    def forget_ports(self, members: list[Member]) -> None:
        """Forget the published ports of ``members``: a restarted container gets new ones."""
        for member in members:
            self._ports.pop(member.container, None)

    def _read_ports(self) -> None:
        self._ports = {m.container: self.backend.published_port(m.container, m.port)
                       for m in self.members_all if self.backend.state(m.container) == "running"}

    # -- lifecycle -----------------------------------------------------------

    def up(self, *, timeout_s: float = 180) -> Stack:
        """Build missing images, start every member and wait until the stack is ready."""
        started = time.monotonic()
        images = ImageSet(self.topology.images_dir, mode=self.images_mode,
                          client=getattr(self.backend, "client", None), progress=self.progress)
        refs = {spec.name: images.ensure(spec.image) for spec in self.topology.services}
        self.progress(f"starting stack {self.run_id} ({self.topology.name}: {len(self.members_all)} containers)")
        try:
            self._create_networks()
            apps = [m for m in self.members_all if m.role != "lb"]
            self._start(apps, refs)
            self.wait_ready(apps, deadline=started + timeout_s)
            self._start([self.lb], refs)
            self.wait_ready([self.lb], deadline=started + timeout_s)
        except BaseException:
            self.progress(f"stack {self.run_id} did not start; removing what was created")
            self.down()
            raise
        self.progress(f"stack {self.run_id} ready in {time.monotonic() - started:.1f} s at {self.lb_url}")
        return self

    def down(self) -> int:
        """Remove every container, network and volume of this run; return how many."""
        self._ports.clear()
        return self.backend.remove_run(self.run_id)

    def _network(self, az: str) -> str:
        return f"azchaos-{self.run_id}-{az}"

    def _create_networks(self) -> None:
        for az in (REGIONAL, *self.topology.azs):
            self.backend.create_network(self._network(az), {LABEL_RUN: self.run_id, LABEL_AZ: az})

    def _container_spec(self, member: Member, image: str) -> ContainerSpec:
        spec = self.topology.service(member.service)
        networks: list[tuple[str, Sequence[str]]] = [(self._network(REGIONAL), [member.alias])]
        if member.az != REGIONAL:
            networks.insert(0, (self._network(member.az), [member.alias]))
        env = {"AZCHAOS_AZ": member.az, "AZCHAOS_REPLICA": member.alias, "PORT": str(member.port)}
        env.update(dict(spec.environment))
        files = {"/etc/nginx/nginx.conf": self.lb_config(spec)} if member.role == "lb" else {}
        return ContainerSpec(
            name=member.container,
            image=image,
            labels=member.labels(self.run_id, self.topology.path),
            networks=networks,
            environment=env,
            command=spec.command,
            publish=[member.port],
            files=files,
        )

    def _start(self, members: list[Member], refs: dict[str, str]) -> None:
        for member in members:
            self.backend.create(self._container_spec(member, refs[member.service]))
        self.backend.start([m.container for m in members])

    def lb_config(self, lb: ServiceSpec, *, running: set[str] | None = None) -> str:
        """Render the nginx configuration of ``lb``, listing the ``running`` targets (default: all).

        nginx resolves target names when it (re)loads and refuses a name that does
        not resolve, which is what a stopped container's name does: so a target
        that is down is left out, and :meth:`reload_lb` registers it again later.
        """
        assert lb.targets is not None
        target = self.topology.service(lb.targets)
        members = [m for m in self.members_all if m.service == target.name
                   and (running is None or m.container in running)]
        servers = "\n".join(f"        server {m.alias}:{m.port} max_fails=1 fail_timeout=5s;" for m in members)
        if not members:  # nginx needs one server: a closed port, so requests fail fast with 502
            servers = "        server 127.0.0.1:9 max_fails=0;"
        template = resources.fixture("nginx/nginx.conf.template").read_text()
        values = {
            "upstream": target.name,
            "servers": servers,
            "port": str(lb.port),
            "connect_timeout": f"{int(lb.connect_timeout_s * 1000)}ms",
            "next_upstream": "error timeout http_502 http_503 http_504" if lb.retry else "off",
        }
        for key, value in values.items():
            template = template.replace("{{" + key + "}}", value)
        return template

    def reload_lb(self) -> None:
        """Register the running targets with the load balancer again, like an ALB after a replacement."""
        spec = self.topology.service(self.lb.service)
        running = {m.container for m in self.members_all if self.backend.state(m.container) == "running"}
        self.backend.put_files(self.lb.container, {"/etc/nginx/nginx.conf": self.lb_config(spec, running=running)})
        code, output = self.backend.exec(self.lb.container, ["nginx", "-s", "reload"])
        if code != 0:
            raise StackError(f"reloading the load balancer failed: {output.strip()}")

    # -- readiness -----------------------------------------------------------

    def health_url(self, member: Member) -> str:
        spec = self.topology.service(member.service)
        if spec.role == "lb" and spec.targets:  # ready only when it reaches a target
            spec = self.topology.service(spec.targets)
        path = spec.health_path
        return f"http://127.0.0.1:{self.host_port(member)}{path}"

    def is_healthy(self, member: Member) -> bool:
        """Return True if ``member`` answers its health check (through its 127.0.0.1 port)."""
        try:
            return requests.get(self.health_url(member), timeout=1).status_code == 200
        except (requests.RequestException, StackError):
            return False

    def wait_ready(self, members: list[Member], *, deadline: float) -> None:
        """Poll until every member is healthy; raise StackError naming the ones that are not."""
        pending = list(members)
        last_report = 0.0
        with ThreadPoolExecutor(max_workers=8) as pool:
            while pending:
                healthy = list(pool.map(self.is_healthy, pending))
                pending = [m for m, ok in zip(pending, healthy, strict=False) if not ok]
                if not pending:
                    return
                now = time.monotonic()
                if now > deadline:
                    raise StackError(self._not_ready_message(pending))
                if now - last_report > 5:
                    self.progress(f"waiting for {len(pending)} container(s): {', '.join(m.alias for m in pending)}")
                    last_report = now
                time.sleep(0.1)

    def _not_ready_message(self, pending: list[Member]) -> str:
        first = pending[0]
        state = self.backend.state(first.container)
        logs = self.backend.logs(first.container, tail=10).strip() or "(no output)"
        return (
            f"{len(pending)} container(s) not healthy in time: {', '.join(m.container for m in pending)}; "
            f"{first.container} is {state}, last log lines:\n{logs}"
        )

    def status(self) -> dict[str, Any]:
        """Return each member's state and health, and the published endpoints."""
        rows = []
        for m in self.members_all:
            state = self.backend.state(m.container)
            rows.append({"container": m.container, "service": m.service, "role": m.role, "az": m.az,
                         "state": state, "healthy": state == "running" and self.is_healthy(m)})
        endpoints = {"lb": self.lb_url} if self.backend.state(self.lb.container) == "running" else {}
        return {"run_id": self.run_id, "environment": str(self.topology.path),
                "azs": list(self.topology.azs), "members": rows, "endpoints": endpoints}
