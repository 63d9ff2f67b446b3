"""The running stack built from a topology: start it, find its members, recover them, stop it.

Lifecycle only: what a service needs and when it is ready is its role's knowledge
(:mod:`pytest_azchaos.stack.roles`); this module asks the roles and never names one.

Example::

    stack = Stack(topology.load("environments/default.yaml")).up()
    stack.lb_url            # 'http://127.0.0.1:49153'
    stack.members(az="a")   # the containers of AZ a
    stack.down()
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from ..errors import ConfigError, StackError
from . import reaper, topology
from .backend import Backend, ContainerSpec, DockerBackend
from .images import ImageSet
from .model import (
    LABEL_AZ,
    LABEL_ENV,
    LABEL_RUN,
    LABEL_SECRETS,
    REGIONAL,
    SECRET_NAMES,
    Link,
    Look,
    Member,
    Topology,
    container_name,
    network_name,
)
from .plan import image_names, new_run_id, plan
from .roles import ROLES
from .roles.db import DbRole
from .scaling import AutoScaling

__all__ = ["Member", "Progress", "Stack", "new_run_id", "plan"]

Progress = Callable[[str], None]
#: at most this long for requests under way to a member taken out of service before its stop (Stack.drain)
DRAIN_S = 10.0


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
        self._held_out: set[str] = set()  # containers a heal is bringing back (hold_out)
        self._reconfiguring = threading.Lock()  # one reconfiguration at a time (reconfigure)
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

    def member(self, alias: str) -> Member:
        """Return the member called ``alias`` ("app-a-1", "toxiproxy-b-1"); an unknown one is a ConfigError."""
        for member in self.members_all:
            if member.alias == alias:
                return member
        known = ", ".join(sorted(m.alias for m in self.members_all))
        raise ConfigError(f"no member {alias!r}: expected one of {known}")

    def container_of(self, alias: str) -> str:
        return container_name(self.run_id, alias)

    def secret(self, name: str) -> str:
        return self.secrets[name]

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

    def in_service(self, member: Member) -> bool:
        """Return True if ``member`` runs and no heal holds it out (:meth:`hold_out`)."""
        return member.container not in self._held_out and self.is_running(member)

    @property
    def held_out(self) -> list[str]:
        """The aliases of the members held out of service until a heal has seen them ready."""
        return [m.alias for m in self.members_all if m.container in self._held_out]

    def _by_role(self, members: Sequence[Member] | None = None) -> dict[str, list[Member]]:
        """``members`` (default: all) grouped by role, in the order the roles start."""
        grouped: dict[str, list[Member]] = {}
        for member in self.members_all if members is None else members:
            grouped.setdefault(member.role, []).append(member)
        return grouped

    def links(self) -> list[Link]:
        """Every network path a fault can degrade (``a/app->db``...), in a stable order."""
        return [link for role, group in self._by_role().items() for link in ROLES[role].links(self, group)]

    def az_aliases(self, member: Member) -> list[str]:
        """The names ``member`` answers to on its AZ's network only, besides its own: those of the
        links it proxies (:attr:`Link.alias`)."""
        return list(dict.fromkeys(k.alias for k in ROLES[member.role].links(self, [member]) if k.alias))

    def primaries(self) -> list[Member]:
        """The members that lead now, e.g. the Patroni leader (the target ``db-primary``)."""
        return [m for role, group in self._by_role().items() for m in ROLES[role].primaries(self, group)]

    def has_primaries(self) -> bool:
        """Whether some member can lead (a primary can be targeted), asked without the engine."""
        return any(ROLES[m.role].has_primaries for m in self.members_all)

    def upstreams(self) -> dict[str, str]:
        """The load balancers' targets by the address they answer in X-Azchaos-Upstream: "10.0.0.5:80" ->
        "app-a-1". Names are resolved inside each LB, as it resolved them (at its last reload)."""
        found: dict[str, str] = {}
        for role, group in self._by_role().items():
            names = ROLES[role].upstreams(self, group)
            found.update(names)
            if names and self.is_running(group[0]):
                ips = self._resolve(group[0], sorted({address.rpartition(":")[0] for address in names}))
                found.update({f"{ips[host]}:{port}": alias for address, alias in names.items()
                              for host, _, port in [address.rpartition(":")] if host in ips})
        return found

    def _resolve(self, member: Member, hosts: list[str]) -> dict[str, str]:
        """Return the address each of ``hosts`` has inside ``member``'s container (those that resolve)."""
        code, output = self.backend.exec(member.container, ["getent", "hosts", *hosts])
        return {name: fields[0] for fields in (line.split() for line in output.splitlines())
                if code in (0, 2) for name in fields[1:]}

    def looks(self) -> list[Look]:
        """The watch's looks at every role (pytest_azchaos.watch)."""
        return [look for role, group in self._by_role().items() for look in ROLES[role].looks(self, group)]

    def not_steady(self) -> list[str]:
        """Why the stack is not in its steady state, role by role (empty when it is)."""
        states = {m.alias: self.backend.state(m.container) for m in self.members_all}
        reasons = [f"{alias} is {state}" for alias, state in states.items() if state != "running"]
        for role, group in self._by_role().items():
            try:
                reasons += ROLES[role].not_steady(self, group)
            except (StackError, OSError) as exc:  # e.g. a port not published: that is a reason too
                reasons.append(f"{role}: {exc}")
        return reasons

    def endpoint(self, name: str) -> Any:
        """Return the published endpoint called ``name`` ("lb", "s3", "db", "db_reader")."""
        for role, group in self._by_role().items():
            found = ROLES[role].endpoints(self, group) if name in ROLES[role].endpoint_names else {}
            if name in found:
                return found[name]
        raise ConfigError(f"{self.topology.path}: this environment has no {name!r} endpoint")

    @property
    def lb_url(self) -> str:
        """The load balancer's URL on 127.0.0.1."""
        return str(self.endpoint("lb"))

    def at(self) -> str:
        """Return " at <the LB's URL>" for messages, or "" for an environment without a load balancer
        (an S3 or DB region of its own is a valid environment)."""
        try:
            return f" at {self.lb_url}"
        except ConfigError:
            return ""

    def db_dsn(self, *, reader: bool = False) -> str:
        """Return a PostgreSQL DSN of the DB endpoint on 127.0.0.1: the writer, or with ``reader`` the
        reader endpoint (any running node, possibly stale, like an RDS reader endpoint)."""
        return str(self.endpoint("db_reader" if reader else "db"))

    def sql(self, member: Member, sql: str) -> tuple[int, str]:
        """Run ``sql`` with psql inside a DB member, on its own socket (not through the endpoint:
        whether that node itself takes it); return psql's exit status and its unaligned output."""
        role = ROLES[member.role]
        if not isinstance(role, DbRole):
            raise ConfigError(f"{member.alias} is not a DB node (its role is {member.role})")
        return self.backend.exec(member.container, role.sql_command(sql))

    def endpoints(self) -> dict[str, Any]:
        """Return the published endpoints of the running members, for any standard client (curl, psql, aws cli)."""
        found: dict[str, Any] = {}
        for role, group in self._by_role().items():
            running = [m for m in group if self.is_running(m)]
            if running:
                found.update(ROLES[role].endpoints(self, running))
        return found

    # -- lifecycle -----------------------------------------------------------

    @contextmanager
    def owned(self) -> Iterator[Stack]:
        """Start this stack and remove it at the end, guarded as the plugin guards its stacks: runs of
        dead owners are swept first, and a reaper removes this one if the process is killed (SIGTERM
        skips ``finally``). For scripts that start a stack of their own, like the benchmarks."""
        with reaper.Guard(self.backend, self.run_id, self.progress):  # released once the stack is gone
            try:
                yield self.up()
            finally:
                self.down()

    def up(self, *, timeout_s: float = 240) -> Stack:
        """Build missing images, start every member and wait until the stack is ready."""
        refs = self.resolve_images()
        started = time.monotonic()  # builds take what they take; the timeout is for starting
        self.progress(f"starting stack {self.run_id} ({self.topology.name}: {len(self.members_all)} containers)")
        try:
            self._create_networks()
            for member in self.members_all:
                self.backend.create(self._container_spec(member, refs[(member.service, member.role)]))
            self._start_in_stages(deadline=started + timeout_s)
            self.wait_ready(self.members_all, deadline=started + timeout_s)
        except BaseException:
            self.progress(f"stack {self.run_id} did not start; removing what was created")
            self.down()
            raise
        self.progress(f"stack {self.run_id} ready in {time.monotonic() - started:.1f} s{self.at()}")
        self.scaling = AutoScaling.start_for(self, refs)
        return self

    def _start_in_stages(self, *, deadline: float) -> None:
        """Start everything at once but for the orderings the roles declare (start_stage): a
        stage starts once every role lets it (stage_started) for the stage before."""
        stages: dict[int, list[Member]] = {}
        for member in self.members_all:
            stages.setdefault(ROLES[member.role].start_stage(self, member), []).append(member)
        for number in sorted(stages):
            members = stages[number]
            self.backend.start([m.container for m in members])
            if number == max(stages):
                return
            while not all(ROLES[role].stage_started(self, group) for role, group in self._by_role(members).items()):
                if time.monotonic() > deadline:
                    raise StackError(self._not_ready_message([m.alias for m in members]))
                self._check_crashed(members)
                time.sleep(0.2)

    def image_names(self) -> dict[tuple[str, str], str]:
        """Return the image (recipe or reference) of each (service, role) of the stack."""
        return image_names(self.topology, self.members_all)

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
        return network_name(self.run_id, az)

    def _create_networks(self) -> None:
        for az in (REGIONAL, *self.topology.azs):
            self.backend.create_network(self.network(az), {LABEL_RUN: self.run_id, LABEL_AZ: az})

    def _container_spec(self, member: Member, image: str) -> ContainerSpec:
        spec = self.topology.service(member.service)
        role = ROLES[member.role]
        networks: list[tuple[str, Sequence[str]]] = [(self.network(REGIONAL), [member.alias])]
        if member.az != REGIONAL:
            networks.insert(0, (self.network(member.az), [member.alias, *self.az_aliases(member)]))
        env = {"AZCHAOS_AZ": member.az, "AZCHAOS_REPLICA": member.alias, "PORT": str(member.port)}
        env.update(role.environment(self, member))
        env.update(dict(spec.environment))
        labels = member.labels(self.run_id, self.topology.path)
        if member == self.members_all[0]:  # where another process finds them (Stack.attach)
            labels[LABEL_SECRETS] = json.dumps(self.secrets)
        return ContainerSpec(
            name=member.container, image=image, labels=labels, networks=networks, environment=env,
            command=role.command(self, member), publish=role.ports(self, member), files=role.files(self, member),
            sysctls=role.sysctls(self, member),
        )

    def add_member(self, member: Member, image: str) -> None:
        """Create and start one more member (a replacement), then let the others know when it is ready."""
        self.backend.create(self._container_spec(member, image))
        self.members_all.append(member)
        self.backend.start([member.container])
        self.wait_ready([member], deadline=time.monotonic() + 60)
        self.reconfigure()

    def hold_out(self, members: Sequence[Member]) -> None:
        """Take ``members`` out of service until :meth:`recover` has seen them ready: the other
        roles are told at once (the LB drops them from its targets).

        A heal calls this before it starts or reconnects members. Without it, the LB kept a
        killed member's old address, and a restarted container may get that address back: nginx
        then sent requests to it the moment it listened. A MinIO node answers "Server not
        initialized" (503) for seconds after a start, and the S3 endpoint cannot resend a
        streamed upload: the upload failed. S3 never routes to a node that is starting, and an
        ALB sends a target nothing before its health checks pass.
        """
        self._held_out.update(m.container for m in members)
        self.reconfigure()

    def drain(self, members: Sequence[Member], *, timeout_s: float = DRAIN_S) -> None:
        """Before a graceful stop or restart of ``members``: those whose role is drained before a stop
        (the nodes of a managed service: S3) are held out of service (:meth:`hold_out`), and the
        requests under way to them finish first, as S3 takes a node out before it goes down and an
        ALB waits out its deregistration delay. They rejoin once a heal has seen them ready
        (:meth:`recover`). The others are left as they are: a reboot of the user's own instances is
        what a test rehearses. Requests still under way after ``timeout_s`` meet the stop."""
        drained = [m for m in members if ROLES[m.role].drained_before_stop]
        if not drained:
            return
        before = self._serving()
        self.hold_out(drained)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and before & self._serving():
            time.sleep(0.1)

    def _serving(self) -> set[tuple[str, str]]:
        """What serves requests in each running member now (the LB's workers), by container."""
        found: set[tuple[str, str]] = set()
        for member in self.members_all:
            command = ROLES[member.role].serving(self, member)
            if command and self.is_running(member):
                code, output = self.backend.exec(member.container, list(command))
                found |= {(member.container, line) for line in output.split()} if code == 0 else set()
        return found

    def recover(self, members: Sequence[Member], *, timeout_s: float = 120) -> None:
        """After ``members`` were started, unpaused or reconnected (every heal): forget their old
        ports, wait until they are ready, and let the other roles know (the LB registers its
        targets again, with those held out: a restarted or reconnected member may have a new
        address). If they are not ready in time, those held out stay out (StackError)."""
        self.forget_ports(members)
        self.wait_ready(members, deadline=time.monotonic() + timeout_s)
        self._held_out.difference_update(m.container for m in members)
        self.reconfigure()

    def reconfigure(self) -> None:
        """Apply what each running member's role needs after members changed (e.g. the LB's targets).

        One at a time: the auto scaling thread and a heal both reconfigure, and a change rendered
        before another's but applied after it would leave the LB with the older state (a member
        held out let back in). A change whose command fails is rendered and tried once more: a
        member that stopped in between (a fault landing) is then left out.
        """
        with self._reconfiguring:
            for member in self.members_all:
                self._reconfigure(member)

    def _reconfigure(self, member: Member) -> None:
        for last in (False, True):
            change = ROLES[member.role].reconfigure(self, member)
            if change is None or not self.is_running(member):
                return
            self.backend.put_files(member.container, dict(change.files))
            code, output = self.backend.exec(member.container, list(change.command))
            if code == 0:
                return
            failed = f"reconfiguring {member.alias} ({' '.join(change.command)}) failed: {output.strip()}"
            if last:
                raise StackError(failed)
            self.progress(f"{failed}; trying once more")

    def reload_lb(self) -> None:
        """Kept for callers of 0.1: the same as :meth:`reconfigure`."""
        self.reconfigure()

    # -- readiness -----------------------------------------------------------

    def not_ready(self, members: Sequence[Member]) -> list[str]:
        """Return what is not ready among ``members``, role by role (a role may also check its cluster)."""
        self._check_crashed(members)
        pending: list[str] = []
        for role, group in self._by_role(members).items():
            try:
                pending += ROLES[role].not_ready(self, group)
            except StackError:  # e.g. a port not published yet
                pending += [m.alias for m in group]
        return pending

    def _check_crashed(self, members: Sequence[Member]) -> None:
        """Raise StackError with its last log lines if one of ``members`` stopped while starting."""
        crashed = [m for m in members if self.backend.state(m.container) in ("exited", "dead", "missing")]
        if crashed:
            logs = self.backend.logs(crashed[0].container, tail=15).strip() or "(no output)"
            raise StackError(f"{crashed[0].container} stopped while starting "
                             f"({self.backend.state(crashed[0].container)}); its last log lines:\n{logs}")

    def is_healthy(self, member: Member) -> bool:
        """Return True if ``member``'s role reports it ready (through 127.0.0.1 ports)."""
        try:
            return self.is_running(member) and not ROLES[member.role].not_ready(self, [member])
        except StackError:  # it stopped between the two questions (a fault landing): its port is gone
            return False

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

    def status(self) -> dict[str, Any]:
        """Return each member's state and health, role facts and the published endpoints."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            health = list(pool.map(self.is_healthy, self.members_all))
        rows = [{"container": m.container, "service": m.service, "role": m.role, "az": m.az,
                 "state": self.backend.state(m.container), "healthy": ok}
                for m, ok in zip(self.members_all, health, strict=True)]
        roles = {role: dict(ROLES[role].status(self, group)) for role, group in self._by_role().items()}
        return {"run_id": self.run_id, "environment": str(self.topology.path), "azs": list(self.topology.azs),
                "members": rows, "roles": {k: v for k, v in roles.items() if v}, "endpoints": self.endpoints()}
