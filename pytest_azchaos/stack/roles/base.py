"""The interface of a role, and what every role shares.

A role owns all knowledge of its service, as a testcontainers module owns its container: what the
environment file may say of it (options, defaults, placement), how its containers run (command,
environment, files, ports), when they are ready, which endpoints they offer, what the watch and
the steady-state check read of them, and which of them is a primary. The lifecycle
(:mod:`pytest_azchaos.stack.stack`) asks; it never names a role. Roles see the stack only
through :class:`~pytest_azchaos.stack.model.StackView`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from ..model import Link, Look, Member, ServiceSpec, StackView


@dataclass(frozen=True)
class Reconfiguration:
    """Files to put into a running member and the command that makes it read them again."""

    files: Mapping[str, str]
    command: Sequence[str]


class Role:
    """A kind of member of the stack. Subclasses override what differs."""

    name = ""
    #: the service port when the environment file names none
    default_port = 8080
    #: the place in the start order: dependencies first
    order = 0
    #: one member for the whole region (a load balancer), not replicas per AZ
    regional = False
    #: the keys only this role takes in the environment file, with their defaults
    options: Mapping[str, Any] = {}
    #: upper bounds of whole-number options (the default bound is 64)
    limits: Mapping[str, int] = {}
    #: the option keys that are durations ("500ms"); they are kept in seconds
    durations: frozenset[str] = frozenset()
    #: option key -> the role of the service it names; None names the only such service
    references: Mapping[str, str] = {}
    #: references a service of this role cannot do without
    required: frozenset[str] = frozenset()
    #: at most this many services of the role in one region (None: no limit)
    most_services: int | None = None
    #: roles of the regional members each service of this role brings along (the DB's endpoint)
    companions: tuple[str, ...] = ()
    #: the roles this one stands in for where a service is referenced (LocalStack for ``s3``)
    provides: tuple[str, ...] = ()
    #: some of its members lead (:meth:`primaries`): the fault target ``db-primary`` fits
    has_primaries = False
    #: the names of the endpoints :meth:`endpoints` returns
    endpoint_names: tuple[str, ...] = ()
    #: container ports published on 127.0.0.1 besides the service port
    extra_ports: tuple[int, ...] = ()
    #: a graceful stop or restart of a member first takes it out of service and lets requests under
    #: way to it finish (Stack.drain): the nodes of a managed service (S3) go down unseen by clients.
    #: Not for what stands for the user's own instances: a reboot they see is what a test rehearses.
    drained_before_stop = False

    # -- the environment file ----------------------------------------------------------------

    def default_azs(self, azs: tuple[str, ...]) -> tuple[str, ...]:
        """The AZs a service of this role is placed in when the file names none."""
        return azs

    def check(self, spec: ServiceSpec) -> str | None:
        """Return what is wrong with ``spec`` ("option: message"), or None; called as the service is loaded."""
        return None

    # -- containers ------------------------------------------------------------------------------

    def image(self, spec: ServiceSpec) -> str:
        """The image (recipe or reference) of this role's members of ``spec``."""
        return spec.image

    def ports(self, stack: StackView, member: Member) -> tuple[int, ...]:
        return (member.port, *self.extra_ports)

    def environment(self, stack: StackView, member: Member) -> dict[str, str]:
        return {}

    def sysctls(self, stack: StackView, member: Member) -> dict[str, str]:
        """Kernel settings of the member's own network namespace (``docker run --sysctl``)."""
        return {}

    def command(self, stack: StackView, member: Member) -> list[str]:
        return list(stack.topology.service(member.service).command)

    def files(self, stack: StackView, member: Member) -> dict[str, str]:
        return {}

    # -- starting ---------------------------------------------------------------------------------

    def start_stage(self, stack: StackView, member: Member) -> int:
        """The stage ``member`` starts in: stage 0 first, stage 1 once stage 0 is under way."""
        return 0

    def stage_started(self, stack: StackView, members: list[Member]) -> bool:
        """Return True once ``members`` (of this role, in one stage) let the next stage start."""
        return True

    def not_ready(self, stack: StackView, members: list[Member]) -> list[str]:
        """Return what is not ready yet among ``members`` (empty when all are ready)."""
        return [m.alias for m in members if not http_ok(stack.url(m, m.port, health_path(stack, m)))]

    def reconfigure(self, stack: StackView, member: Member) -> Reconfiguration | None:
        """What ``member`` needs after other members were restarted or reconnected (None: nothing)."""
        return None

    def serving(self, stack: StackView, member: Member) -> Sequence[str]:
        """A command, run in ``member``, that prints what serves its requests now, one per line (the
        LB's worker processes). A drain waits until all that served before it took members out of
        service is gone: those may still hold requests to them. Empty: nothing to wait for."""
        return ()

    # -- what others read ------------------------------------------------------------------------

    def endpoints(self, stack: StackView, members: list[Member]) -> dict[str, Any]:
        """The endpoints ``members`` offer on 127.0.0.1, by name ("lb", "db", "s3"...)."""
        return {}

    def links(self, stack: StackView, members: list[Member]) -> list[Link]:
        """The network paths ``members`` (proxies) put faults on."""
        return []

    def primaries(self, stack: StackView, members: list[Member]) -> list[Member]:
        """The members that lead now (the target ``db-primary``)."""
        return []

    def upstreams(self, stack: StackView, members: list[Member]) -> dict[str, str]:
        """The targets ``members`` (load balancers) send to: "host:port" as they name it -> member alias."""
        return {}

    def looks(self, stack: StackView, members: list[Member]) -> list[Look]:
        """The watch's looks at ``members``: each returns facts; a changed fact is an event."""
        return []

    def not_steady(self, stack: StackView, members: list[Member]) -> list[str]:
        """Why ``members`` are not in their steady state (empty when they are)."""
        return []

    def status(self, stack: StackView, members: list[Member]) -> Mapping[str, Any]:
        """Return role-specific facts for ``azchaos status`` (leader, drives, links...)."""
        return {}

    # -- docker compose export -------------------------------------------------------------------

    def probe(self, stack: StackView, member: Member) -> str:
        """A shell healthcheck that passes when ``member`` is what ``not_ready`` waits for."""
        return HTTP_200 % (member.port, health_path(stack, member))

    def depends_on(self, stack: StackView, member: Member) -> dict[str, dict[str, str]]:
        """Compose's ``depends_on`` of ``member``: the start order of :meth:`start_stage`."""
        return {}


# A healthcheck with what the images have (bash), polled every second by compose.
HTTP_200 = ("bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d && printf \"GET %s HTTP/1.0\\r\\n\\r\\n\" >&3 "
            "&& head -n 1 <&3 | grep -q \" 200 \"'")
TCP_OPEN = "bash -c '</dev/tcp/127.0.0.1/%d'"


def health_path(stack: StackView, member: Member) -> str:
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
