"""AZ outages: lose a whole availability zone at once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError, FaultError

if TYPE_CHECKING:
    from ..stack import Stack

AZ_MODES = ("power", "freeze")
HEAL_TIMEOUT_S = 120  # an old DB primary may need a pg_rewind before it streams again


@dataclass(frozen=True)
class AzOutage:
    """Lose AZ ``az``.

    ``mode="power"`` kills every container of the AZ at once, like a power loss;
    healing starts them again. ``mode="freeze"`` pauses them: a gray failure
    where connections hang instead of failing fast; healing unpauses them.

    Example::

        with nemesis.inject(AzOutage("a", mode="power")):
            time.sleep(10)
    """

    az: str
    mode: str = "power"

    @property
    def subject(self) -> str:
        return f"outage({self.az}, {self.mode})"

    def validate(self, stack: Stack) -> None:
        if self.mode not in AZ_MODES:
            raise ConfigError(f"AZ outage mode {self.mode!r}: expected one of {', '.join(AZ_MODES)}")
        stack.topology.check_az(self.az)

    def _containers(self, stack: Stack) -> list[str]:
        return [m.container for m in stack.members(az=self.az)]

    def inject(self, stack: Stack) -> None:
        names = self._containers(stack)
        if self.mode == "power":
            stack.backend.kill(names)
        else:
            stack.backend.pause(names)

    def heal(self, stack: Stack) -> None:
        names = self._containers(stack)
        if self.mode == "power":
            stack.backend.start(names)
            members = stack.members(az=self.az)
            stack.forget_ports(members)
            stack.wait_ready(members, deadline=time.monotonic() + HEAL_TIMEOUT_S)
            stack.reload_lb()  # restarted replicas may have new addresses
        else:
            stack.backend.unpause(names)
        states = {n: stack.backend.state(n) for n in names}
        down = [n for n, s in states.items() if s != "running"]
        if down:
            raise FaultError(f"after healing, not running: {', '.join(down)}")
