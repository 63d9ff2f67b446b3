"""Instance faults: kill, stop, pause or restart one replica, or every replica of a role."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError, FaultError
from ..roles.db import DbRole

if TYPE_CHECKING:
    from ..stack import Member, Stack

ACTIONS = ("kill", "stop", "pause", "restart")
PRIMARY = "db-primary"  # the Patroni leader, wherever it is when the fault is injected


@dataclass(frozen=True)
class InstanceFault:
    """Do ``action`` to ``target``: a replica (``app-a-1``), a role (``etcd``) or ``db-primary``.

    Example::

        azchaos.inject(InstanceFault("db-primary", "kill"))
    """

    target: str
    action: str = "kill"

    @property
    def subject(self) -> str:
        return f"{self.action}({self.target})"

    def validate(self, stack: Stack) -> None:
        if self.action not in ACTIONS:
            raise ConfigError(f"instance fault {self.action!r}: expected one of {', '.join(ACTIONS)}")
        self.members(stack)

    def members(self, stack: Stack) -> list[Member]:
        """Return the members the target names now (the primary is looked up each time)."""
        if self.target == PRIMARY:
            role = DbRole()
            leader = role.view(stack, stack.members(role="db")[0].service)[0] if stack.members(role="db") else None
            found = [m for m in stack.members(role="db") if m.alias == leader]
            if not found:
                raise FaultError("there is no DB primary to target right now")
            return found
        by_alias = [m for m in stack.members_all if m.alias == self.target]
        by_role = [m for m in stack.members_all if m.role == self.target]
        if not (by_alias or by_role):
            known = sorted({m.alias for m in stack.members_all} | {m.role for m in stack.members_all} | {PRIMARY})
            raise ConfigError(f"unknown target {self.target!r}: expected one of {', '.join(known)}")
        return by_alias or by_role

    def inject(self, stack: Stack) -> None:
        # Remember whom we hit: healing must restart those, not the new primary.
        hit = self.members(stack)
        object.__setattr__(self, "_hit", hit)
        names = [m.container for m in hit]
        {"kill": stack.backend.kill, "stop": stack.backend.stop, "pause": stack.backend.pause,
         "restart": stack.backend.restart}[self.action](names)

    def heal(self, stack: Stack) -> None:
        hit: list[Member] = getattr(self, "_hit", [])
        names = [m.container for m in hit]
        if self.action == "pause":
            stack.backend.unpause(names)
        elif self.action in ("kill", "stop"):
            stack.backend.start(names)
        stack.forget_ports(hit)
        stack.wait_ready(hit, deadline=time.monotonic() + 120)
        stack.reload_lb()
