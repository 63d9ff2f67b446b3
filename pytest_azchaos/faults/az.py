"""AZ outages: lose a whole availability zone at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError, FaultError
from ..stack.model import REGIONAL

if TYPE_CHECKING:
    from ..stack import Stack

AZ_MODES = ("power", "freeze", "network")
HEAL_TIMEOUT_S = 120  # an old DB primary may need a pg_rewind before it streams again


@dataclass(frozen=True)
class AzOutage:
    """Lose AZ ``az``.

    ``mode="power"`` kills every container of the AZ at once, like a power loss;
    healing starts them again. ``mode="freeze"`` pauses them: a gray failure
    where connections hang instead of failing fast; healing unpauses them.
    ``mode="network"`` cuts the AZ off the regional network, so the other AZs and
    the load balancer cannot reach it, while its members keep running and reach
    each other on the AZ's own network (a partition); healing reconnects them.

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
        elif self.mode == "freeze":
            stack.backend.pause(names)
        else:
            stack.backend.disconnect(names, stack.network(REGIONAL))

    def heal(self, stack: Stack) -> None:
        names = self._containers(stack)
        members = stack.members(az=self.az)
        if self.mode == "power":
            stack.hold_out(members)  # out of the LB until ready: see Stack.hold_out
            stack.backend.start(names)
            stack.recover(members, timeout_s=HEAL_TIMEOUT_S)  # restarted members may have new addresses
        elif self.mode == "freeze":
            stack.backend.unpause(names)
        else:
            stack.hold_out(members)
            for member in members:
                stack.backend.connect(member.container, stack.network(REGIONAL), [member.alias])
            # Reconnected members may have new regional addresses; etcd rejoins and MinIO reconnects
            # its drives on their own: recover waits until they did.
            stack.recover(members, timeout_s=HEAL_TIMEOUT_S)
        states = {n: stack.backend.state(n) for n in names}
        down = [n for n, s in states.items() if s != "running"]
        if down:
            raise FaultError(f"after healing, not running: {', '.join(down)}")
