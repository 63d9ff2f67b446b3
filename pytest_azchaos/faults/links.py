"""Link faults through Toxiproxy: toxics (latency, dropped connections...) and cut links.

Links are named as in docs/stack.md: ``a/app->db``, ``a/app->s3``, ``a/lb->app-a-1``.

Toxiproxy has no "both directions": ``direction="both"`` adds one toxic per stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..stack.model import Link
from .toxiproxy import ToxiproxyApi

if TYPE_CHECKING:
    from ..stack import Stack

#: toxic type -> the attributes it takes (all whole numbers; times in ms, rates in KB/s)
TOXICS: dict[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
}
DIRECTIONS = ("downstream", "upstream", "both")
def api_of(stack: Stack, link: Link) -> ToxiproxyApi:
    """The Toxiproxy API of the server that carries ``link``."""
    member = stack.member(link.proxy)
    return ToxiproxyApi(f"http://127.0.0.1:{stack.host_port(member)}", name=member.alias)


def find_link(stack: Stack, name: str) -> Link:
    """Return the link called ``name``, or raise a ConfigError listing the links there are."""
    known = stack.links()
    for link in known:
        if link.name == name:
            return link
    names = ", ".join(link.name for link in known) or "(none: this environment has no toxiproxy)"
    raise ConfigError(f"unknown link {name!r}: expected one of {names}")


@dataclass(frozen=True)
class LinkToxic:
    """Degrade a link with a Toxiproxy toxic.

    Example::

        azchaos.inject(LinkToxic("a/app->db", "latency", {"latency": 200, "jitter": 20}))
    """

    link: str
    kind: str
    attributes: tuple[tuple[str, int], ...] = ()
    toxicity: float = 1.0
    direction: str = "downstream"

    @property
    def subject(self) -> str:
        attrs = ", ".join(f"{k}={v}" for k, v in self.attributes)
        return f"toxic({self.link}, {self.kind}{', ' if attrs else ''}{attrs})"

    @property
    def streams(self) -> tuple[str, ...]:
        return ("downstream", "upstream") if self.direction == "both" else (self.direction,)

    def validate(self, stack: Stack) -> None:
        find_link(stack, self.link)
        if self.kind not in TOXICS:
            raise ConfigError(f"unknown toxic {self.kind!r}: expected one of {', '.join(TOXICS)}")
        for key, value in self.attributes:
            if key not in TOXICS[self.kind]:
                raise ConfigError(f"toxic {self.kind} takes {', '.join(TOXICS[self.kind])}, not {key!r}")
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"toxic {self.kind}: {key} must be a whole number >= 0, found {value!r}")
        if not 0 <= self.toxicity <= 1:
            raise ConfigError(f"toxicity must be between 0 and 1, found {self.toxicity!r}")
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"direction {self.direction!r}: expected one of {', '.join(DIRECTIONS)}")

    def inject(self, stack: Stack) -> None:
        link = find_link(stack, self.link)
        api = api_of(stack, link)
        for stream in self.streams:
            api.add_toxic(link.proxy_name, name=f"azchaos_{self.kind}_{stream}", kind=self.kind, stream=stream,
                          toxicity=self.toxicity, attributes=dict(self.attributes))

    def heal(self, stack: Stack) -> None:
        link = find_link(stack, self.link)
        api = api_of(stack, link)
        for stream in self.streams:
            # A Toxiproxy restarted by a power outage of its AZ has no toxics left: nothing to undo.
            api.remove_toxic(link.proxy_name, f"azchaos_{self.kind}_{stream}", missing_ok=True)


@dataclass(frozen=True)
class LinkCut:
    """Cut a link: its Toxiproxy proxy stops listening and drops open connections."""

    link: str

    @property
    def subject(self) -> str:
        return f"cut({self.link})"

    def validate(self, stack: Stack) -> None:
        find_link(stack, self.link)

    def inject(self, stack: Stack) -> None:
        link = find_link(stack, self.link)
        api_of(stack, link).set_enabled(link.proxy_name, False)

    def heal(self, stack: Stack) -> None:
        link = find_link(stack, self.link)
        api_of(stack, link).set_enabled(link.proxy_name, True)
