"""The noisy neighbour: CPU and IO pressure on the containers of an AZ, a target or the whole stack.

CPU pressure is a cgroup limit (what ``docker update --cpus`` sets): ``cpu=0.9`` takes
90 % of the host's CPU away from each container hit, which keeps only the rest, in
bursts the kernel throttles, as on a runner shared with a busy neighbour. It costs
the host nothing, so it is repeatable on a busy CI runner. IO pressure starts ``io``
writer processes in each container (``dd`` with fsync to the container's disk),
stopped when the fault heals.

Example::

    with azchaos.fault("stress", where="all", cpu=0.9, duration="10s"):
        ...
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, FaultError
from ..stack.model import REGIONAL

if TYPE_CHECKING:
    from ..stack import Member, Stack

PERIOD_US = 100_000  # the CFS period; the quota is a share of it per CPU
PIDFILE = "/tmp/.azchaos-stress.pid"  # noqa: S108 - inside the container, which only we write to
IO_LOOP = ("i=0; while [ $i -lt {n} ]; do (while :; do dd if=/dev/zero of=/tmp/.azchaos-stress-$i bs=1M count=32 "
           "conv=fsync 2>/dev/null; done) >/dev/null 2>&1 & echo $! >> " + PIDFILE + "; i=$((i+1)); done")
IO_STOP = f"kill $(cat {PIDFILE}) 2>/dev/null; rm -f {PIDFILE} /tmp/.azchaos-stress-*; true"


def parse_share(value: Any) -> float:
    """Parse a share of CPU: "90%", 0.9 or 90 (percent above 1); ConfigError unless within 0..1."""
    text = str(value).strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ConfigError(f"stress cpu: expected a share like 90% or 0.9, found {value!r}") from None
    share = share / 100 if share > 1 and not text.endswith("%") else share
    if not 0 <= share < 1:
        raise ConfigError(f"stress cpu: expected a share from 0% to below 100%, found {value!r}")
    return share


@dataclass(frozen=True)
class Stress:
    """Take ``cpu`` (a share, "90%") of the CPU from, and/or run ``io`` disk writers in, the containers
    ``where`` says: an AZ ("a"), a replica ("app-a-1"), a role ("db") or "all"."""

    where: str = "all"
    cpu: float | str = 0.0
    io: int = 0

    @property
    def subject(self) -> str:
        parts = [self.where] + ([f"cpu {parse_share(self.cpu):.0%}"] if parse_share(self.cpu) else [])
        return f"stress({', '.join(parts + ([f'io {self.io}'] if self.io else []))})"

    def validate(self, stack: Stack) -> None:
        if not parse_share(self.cpu) and not self.io:
            raise ConfigError("stress needs cpu (e.g. 90%) and/or io (writer processes per container)")
        if not isinstance(self.io, int) or self.io < 0 or self.io > 8:
            raise ConfigError(f"stress io: expected 0 to 8 writer processes per container, found {self.io!r}")
        if not self.members(stack):
            raise ConfigError(f"stress: {self.where!r} is not an AZ, a replica, a role or 'all'")

    def members(self, stack: Stack) -> list[Member]:
        where = self.where
        if where == "all":
            return list(stack.members_all)
        if where in stack.topology.azs or where == REGIONAL:
            return stack.members(az=where)
        found = [m for m in stack.members_all if where in (m.alias, m.role, m.service)]
        return found

    def inject(self, stack: Stack) -> None:
        members = [m for m in self.members(stack) if stack.is_running(m)]
        share = parse_share(self.cpu)
        if share:
            quota = max(1000, int((1 - share) * (os.cpu_count() or 1) * PERIOD_US))
            for member in members:
                _update(stack, member.container, cpu_period=PERIOD_US, cpu_quota=quota)
        if self.io:
            for member in members:
                stack.backend.exec(member.container, ["sh", "-c", IO_LOOP.format(n=self.io)])

    def heal(self, stack: Stack) -> None:
        errors = []
        for member in self.members(stack):
            if stack.backend.state(member.container) == "missing":
                continue
            try:
                if parse_share(self.cpu):
                    _update(stack, member.container, cpu_quota=-1)  # -1: no limit, as before
                if self.io and stack.is_running(member):
                    stack.backend.exec(member.container, ["sh", "-c", IO_STOP])
            except Exception as exc:  # heal the others anyway
                errors.append(f"{member.alias}: {exc}")
        if errors:
            raise FaultError("; ".join(errors))


def _update(stack: Stack, container: str, **limits: int) -> None:
    """``docker update`` the CPU limits of one container (the Docker backend's engine client)."""
    client = getattr(stack.backend, "client", None)
    if client is None:
        raise FaultError("stress needs the Docker backend (its cgroup limits)")
    client.api.update_container(container, **limits)
