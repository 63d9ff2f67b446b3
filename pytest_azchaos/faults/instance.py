"""Instance faults: kill, stop, pause or restart one replica, or every replica of a role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError, FaultError

if TYPE_CHECKING:
    from ..stack import Member, Stack

ACTIONS = ("kill", "stop", "pause", "restart")
HEAL_TIMEOUT_S = 120  # an old DB primary may need a pg_rewind before it streams again
PRIMARY = "db-primary"  # the leader (Patroni's), wherever it is when the fault is injected


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
            found = stack.primaries()
            if not found:
                raise FaultError("there is no DB primary to target right now")
            return found
        by_alias = [m for m in stack.members_all if m.alias == self.target]
        by_role = [m for m in stack.members_all if m.role == self.target]
        if not (by_alias or by_role):
            known = sorted({m.alias for m in stack.members_all} | {m.role for m in stack.members_all} | {PRIMARY})
            raise ConfigError(f"unknown target {self.target!r}: expected one of {', '.join(known)}")
        return by_alias or by_role

    def inject(self, stack: Stack) -> InstanceFault:
        """Act on the members the target names now; return the fault as it hit them (``db-primary``
        becomes the node that led), which is what must be healed, not the new primary."""
        hit = self.members(stack)
        if self.action in ("stop", "restart"):  # graceful: the nodes of a managed service go unseen
            stack.drain(hit)
        {"kill": stack.backend.kill, "stop": stack.backend.stop, "pause": stack.backend.pause,
         "restart": stack.backend.restart}[self.action]([m.container for m in hit])
        return InstanceFault(hit[0].alias, self.action) if self.target == PRIMARY else self

    def heal(self, stack: Stack) -> None:
        hit = self.members(stack)
        names = [m.container for m in hit]
        if self.action == "pause":
            stack.backend.unpause(names)
        elif self.action in ("kill", "stop"):
            stack.hold_out(hit)  # out of the LB until ready: see Stack.hold_out
            stack.backend.start(names)
        stack.recover(hit, timeout_s=HEAL_TIMEOUT_S)
