"""The engine's vocabulary: the declared region, its members, their names and labels, and the view
of a stack that roles receive.

A leaf module: it imports nothing of the engine but the error types, so that roles (which import
only this) cannot reach the lifecycle, the backend or each other's internals by accident.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from ..errors import ConfigError

REGIONAL = "region"  # the "AZ" of regional members (the LB, the DB endpoint) and the regional network

# Every Docker object of a run carries these labels (docs/stack.md).
LABEL_RUN = "azchaos.run"
LABEL_AZ = "azchaos.az"
LABEL_ROLE = "azchaos.role"
LABEL_SERVICE = "azchaos.service"
LABEL_ENV = "azchaos.env"
LABEL_SECRETS = "azchaos.secrets"
LABEL_OWNER = "azchaos.owner"  # the process that removes the run when it ends (see owner.owner_token)
LABEL_KEPT = "azchaos.kept"  # on a volume: the run outlives its owner on purpose

#: a DB's state when no standby that Patroni recorded as synchronous streams (a fact of the watch)
NO_SYNC = "no synchronous standby"
#: the kind of a fact about the LB's own trouble, not a target's (nginx's alerts: a worker that died)
LB_ALERT = "lb-alert"


def capacity(healthy: int, declared: int) -> str:
    """The app's capacity, a fact of the watch: "2/3 healthy" (replicas healthy of those declared;
    a replacement started by auto scaling counts as one of them)."""
    return f"{healthy}/{declared} healthy"


def parse_capacity(detail: str) -> tuple[int, int] | None:
    """(healthy, declared) of a :func:`capacity` fact, None for anything else."""
    found = re.fullmatch(r"(\d+)/(\d+) healthy", detail)
    return (int(found[1]), int(found[2])) if found else None

SECRET_NAMES = ("db_password", "replication_password", "s3_access_key", "s3_secret_key")


def container_name(run_id: str, alias: str) -> str:
    """The Docker name of a member: ``azchaos-<run id>-<alias>``."""
    return f"azchaos-{run_id}-{alias}"


def network_name(run_id: str, az: str) -> str:
    """The Docker network of an AZ (or of the region) in a run."""
    return f"azchaos-{run_id}-{az}"


def unknown(kind: str, value: object, known: Sequence[str], where: str = "") -> str:
    """Say that ``value`` is not one of ``known``, with the closest match as a hint."""
    close = difflib.get_close_matches(str(value), list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    prefix = f"{where}: " if where else ""
    return f"{prefix}unknown {kind} {value!r}: expected one of {', '.join(known) or '(none)'}{hint}"


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the region: its role, image and where its replicas run.

    ``options`` holds the keys only its role takes (each role declares them, with defaults).
    """

    name: str
    role: str
    image: str
    azs: tuple[str, ...]
    replicas_per_az: int = 1
    port: int = 8080
    health_path: str = "/healthz"
    environment: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""  # "file:line" of the service's image, for errors found later (a missing image)

    @property
    def regional(self) -> bool:
        return not self.azs


@dataclass(frozen=True)
class Topology:
    """A validated environment file: the AZs and the services placed in them."""

    name: str
    path: Path
    azs: tuple[str, ...]
    services: tuple[ServiceSpec, ...]
    slo: Mapping[str, Any] = field(default_factory=dict)
    #: the steady-state check before each fault: {timeout: 60s, check: true} (pytest_azchaos.steady)
    steady: Mapping[str, Any] = field(default_factory=dict)
    images_dir: Path = Path("images")

    def service(self, name: str) -> ServiceSpec:
        """Return the service called ``name``."""
        for spec in self.services:
            if spec.name == name:
                return spec
        raise ConfigError(unknown("service", name, [s.name for s in self.services]))

    def by_role(self, role: str) -> list[ServiceSpec]:
        """Return the services of one role, in file order."""
        return [spec for spec in self.services if spec.role == role]

    def check_az(self, az: str) -> str:
        """Return ``az`` if the region has it, else raise a ConfigError naming the AZs it has."""
        if az not in self.azs:
            raise ConfigError(unknown("AZ", az, list(self.azs), where=str(self.path)))
        return az


class Stamped(NamedTuple):
    """A fact that a look of the watch timed itself: an event each time it is seen, at ``at``
    (monotonic), rather than a state whose changes are events (the LB's view, from its log)."""

    detail: str
    at: float


class Measured(NamedTuple):
    """A state with a measurement taken with it ("streaming sync" and "lag 0 B"): only a change of
    state is an event, and the event's detail carries the measurement of that moment."""

    state: str
    measure: str

    def __str__(self) -> str:
        return f"{self.state}, {self.measure}"


#: what a look of the watch says of one thing: its state (perhaps measured), or an event it timed itself
Fact = str | Measured | Stamped
#: one look of the watch: facts named "<kind> <subject>", e.g. {"leader db": "db-a-1"}
Look = Callable[[], Mapping[str, Fact]]


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


@dataclass(frozen=True)
class Link:
    """A named network path through a proxy: ``listen`` on the proxy, forwarded to ``upstream``.

    Names read ``<az>/<from>-><to>``, e.g. ``a/app->db`` (docs/stack.md).
    """

    name: str
    az: str
    proxy: str  # alias of the proxy's container
    listen: int
    upstream: str
    #: a name the proxy also answers to on its AZ's network, so that a peer that names the upstream
    #: by it (a DB node streaming from the leader) goes through the proxy of its own AZ
    alias: str = ""
    #: the random nemesis may degrade it: a path of the app's requests (not a test's own client
    #: link, nor the DB's replication, which a test degrades on purpose)
    nemesis: bool = True

    @property
    def proxy_name(self) -> str:
        """The name in the proxy's API, which puts names in URLs: ``a.app_to_db``."""
        return self.name.replace("/", ".").replace("->", "_to_")

    @property
    def address(self) -> str:
        """Where clients connect to go through the link."""
        return f"{self.alias or self.proxy}:{self.listen}"


class StackView(Protocol):
    """What a role may know of the stack it is part of: read-only, reached through 127.0.0.1."""

    @property
    def run_id(self) -> str: ...

    @property
    def topology(self) -> Topology: ...

    def members(self, *, az: str | None = None, role: str | None = None,
                service: str | None = None) -> list[Member]: ...

    def member(self, alias: str) -> Member: ...

    def secret(self, name: str) -> str: ...

    def url(self, member: Member, port: int, path: str = "") -> str: ...

    def host_port(self, member: Member, port: int | None = None) -> int: ...

    def is_running(self, member: Member) -> bool: ...

    def in_service(self, member: Member) -> bool: ...

    def links(self) -> list[Link]: ...
