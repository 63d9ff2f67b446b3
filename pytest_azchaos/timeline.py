"""The timeline: every fault injected or healed, and what followed, with timestamps."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from .stack.model import LB_ALERT as LB_ALERT
from .stack.model import NO_SYNC as NO_SYNC
from .stack.model import parse_capacity as parse_capacity

# The kinds of event, in one place: the fault library, the watch, the checks and the reports share them.
INJECT = "inject"  # a fault took effect
HEAL = "heal"  # a fault was healed
STEADY = "steady"  # the steady-state check passed before a fault
NOT_STEADY = "not-steady"  # ... or did not
NEMESIS = "nemesis"  # what a random nemesis chose
FAILOVER = "failover"  # the DB leader changed (the watch)
DB_LEADER = "db-leader"  # the DB's first leader, or "no leader"
TARGET = "target"  # an LB target turned healthy or unhealthy
SYNC = "sync"  # the DB's synchronous standby changed
ENDPOINT = "endpoint"  # the node the DB endpoint sends writes to changed ("to none": no node)
MARKED_DOWN = "marked-down"  # the nodes the DB endpoint marked down changed
CAPACITY = "capacity"  # an app service's healthy replicas of those declared changed: "2/3 healthy"
LB = "lb"  # what the LB itself saw of a target (its error log): "marked failed: timed out (...), 3 failures"
# LB_ALERT ("lb-alert"): the LB's own trouble, not a target's (nginx's alerts), "worker process exited on
# signal 9, 1 alert"; NO_SYNC, the detail of a SYNC event when there is none: the roles' facts (stack.model)


@dataclass(frozen=True)
class Event:
    """Something that happened to the stack: ``kind`` is e.g. "inject", "heal", "ready"."""

    mono: float  # time.monotonic(), comparable with the traffic history
    wall: float  # time.time(), for people
    kind: str
    subject: str  # e.g. "outage(a, power)"
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Timeline:
    """A thread-safe, append-only list of events."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def record(self, kind: str, subject: str, detail: str = "", *, at: float | None = None) -> Event:
        """Append an event stamped now (or at monotonic time ``at``, e.g. when it was seen) and return it."""
        now = time.monotonic()
        mono = now if at is None else at
        event = Event(mono, time.time() - (now - mono), kind, subject, detail)
        with self._lock:
            self._events.append(event)
        return event

    @property
    def events(self) -> list[Event]:
        """Every event in time order (some are recorded after the fact: a heal when it is done,
        a change the watch saw when its look ended)."""
        with self._lock:
            return sorted(self._events, key=lambda e: e.mono)

    def first(self, kind: str) -> Event | None:
        """Return the first event of ``kind``, if any."""
        return next((e for e in self.events if e.kind == kind), None)
