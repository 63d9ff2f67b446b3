"""Watch the stack while faults act, and put what changes on the timeline.

Events recorded (kind, subject, detail):

- ``target``, e.g. ``app-a-1``, "unhealthy" / "healthy": an app replica stops or starts
  answering its health check, as the load balancer's health checks see it;
- ``failover``, ``db``, "leader db-a-1 -> db-b-1": Patroni has a new leader
  (``db-leader``, "none" while there is no leader at all);
- ``drives``, ``s3``, "4/6 online": MinIO's drives going offline or back online;
- ``replication``, ``db/db-b-1``, "streaming sync, lag 0 B": a standby's state or sync state
  changed (its lag in bytes at that moment is in the detail; a change of lag alone is no event:
  the role says so with a ``Measured`` fact);
- ``endpoint``, ``db``, "to db-b-1" / "to none": the node the DB endpoint (HAProxy) sends writes
  to, and ``marked-down``, ``db``, "db-a-1": the nodes it has marked down (from its statistics);
- ``sync``, ``db``, "sync standby db-b-1" / "no synchronous standby": a synchronous DB has or
  loses a standby that Patroni recorded as synchronous and that streams (recorded at the start
  too: writes acknowledged without one can be lost with the primary);
- ``capacity``, ``app``, "2/3 healthy": an app service's healthy replicas of those declared
  (recorded at the start too; a replacement started by auto scaling counts);
- ``lb``, ``app-a-1``, "marked failed: timed out (reading response header), 3 failures": what
  the load balancer itself saw and decided (nginx's passive checks, from its error log), at
  most one event per target and second; ``lb``, ``app``, "no live upstreams, 9 requests":
  nginx had no target left for those requests;
- ``lb-alert``, ``lb``, "worker process exited on signal 9, 1 alert": the load balancer's own
  trouble, not a target's (nginx's alerts about itself).

Each kind of fact is polled in its own thread every 0.25 s, and a change is stamped with
the time its look began: it happened at most one interval (plus one look) before. A look may
stamp a fact itself, ``Stamped(detail, at)`` (the LB's view, from its log's lines, with their
monotonic time): such a fact is an event each time it is seen, and a subject that is an LB target's address
(``10.0.3.4:8080``) is named by its member (``Stack.upstreams``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from .stack import Fact, Look, Measured, Stamped
from .timeline import CAPACITY, DB_LEADER, FAILOVER, SYNC, Timeline

if TYPE_CHECKING:
    from .stack import Stack


class HealthWatch:
    """Poll ``stack`` every ``interval_s`` in the background and record changes on ``timeline``."""

    def __init__(self, stack: Stack, timeline: Timeline, *, interval_s: float = 0.25) -> None:
        self.stack = stack
        self.timeline = timeline
        self.interval_s = interval_s
        self.facts: dict[str, str | Measured] = {}  # the latest state of each thing looked at
        self._leaders: dict[str, str] = {}  # DB service -> its last known leader
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._targets: dict[str, str] = {}  # LB target address -> member alias (Stack.upstreams)
        self._targets_read = -float("inf")  # when they were last read (monotonic)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="azchaos-watch")

    def start(self) -> HealthWatch:
        """Take a first look (no events for it), then watch in the background: one thread per
        look, so that a slow one (MinIO's admin API mid-failure) never delays another."""
        self.facts = self.snapshot()
        for name, value in self.facts.items():
            kind, _, subject = name.partition(" ")
            # The state the test starts in: checks need it to explain losses (sync) and to know
            # what capacity is lost and restored (capacity).
            if kind in (SYNC, CAPACITY):
                self.timeline.record(kind, subject, str(value))
        self._leaders = {name[7:]: str(v) for name, v in self.facts.items()
                         if name.startswith("leader ") and str(v) != "none"}
        # The LB's targets while all serve: a killed or cut-off target leaves the LB's list at once,
        # and what nginx logs about it comes later (a partition's events all named an address).
        self._targets.update(_quietly(self.stack.upstreams))
        for look in self._looks():
            thread = threading.Thread(target=self._run, args=(look,), name="azchaos-watch", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._pool.shutdown(wait=True)

    def states(self) -> dict[str, str]:
        """The latest state of each thing looked at, as text ({"leader db": "db-a-1"}); any thread."""
        with self._lock:
            return {name: str(value) for name, value in self.facts.items()}

    def _run(self, look: Look) -> None:
        while not self._stop.wait(self.interval_s):
            seen_at = time.monotonic()  # a change happened before the look began: stamp it then
            self.update(_quietly(look), at=seen_at)

    def update(self, facts: Mapping[str, Fact], *, at: float | None = None) -> None:
        """Record an event for each fact that changed since the last look, and each stamped fact."""
        states = {name: value for name, value in facts.items() if not isinstance(value, Stamped)}
        for name, value in facts.items():
            if isinstance(value, Stamped):
                kind, subject = name.split(" ", 1)
                self.timeline.record(kind, self._member(subject), value.detail, at=value.at)
        with self._lock:
            for name, value in states.items():
                old = self.facts.get(name)
                if old is None or _state(old) == _state(value):
                    continue
                kind, subject = name.split(" ", 1)
                if kind == "leader":
                    self._leader_changed(subject, str(value), at)
                else:
                    self.timeline.record(kind, subject, str(value), at=at)
            self.facts.update(states)

    def _leader_changed(self, service: str, leader: str, at: float | None) -> None:
        if leader == "none":
            self.timeline.record(DB_LEADER, service, "no leader", at=at)
            return
        last = self._leaders.get(service)
        self._leaders[service] = leader
        if last is not None and last != leader:
            self.timeline.record(FAILOVER, service, f"leader {last} -> {leader}", at=at)
        else:
            self.timeline.record(DB_LEADER, service, f"leader {leader}", at=at)

    def _member(self, subject: str) -> str:
        """The member an LB target's address stands for (``subject`` itself if none)."""
        if ":" in subject and subject not in self._targets and time.monotonic() - self._targets_read > TARGETS_EVERY_S:
            # Read when an address is new: a target started again after a heal has a new one.
            self._targets_read = time.monotonic()
            self._targets.update(_quietly(self.stack.upstreams))
        return self._targets.get(subject, subject)

    def snapshot(self) -> dict[str, str | Measured]:
        """Look at the stack once: each app target's health, each DB service's leader, MinIO's drives
        (the states; a stamped fact is news, and a first look has none)."""
        facts: dict[str, str | Measured] = {}
        for found in self._pool.map(_quietly, self._looks()):
            facts.update({name: value for name, value in found.items() if not isinstance(value, Stamped)})
        return facts

    def _looks(self) -> list[Look]:
        return self.stack.looks()  # each role's looks at its members (pytest_azchaos.stack.roles)


T = TypeVar("T")
TARGETS_EVERY_S = 1.0  # read the LB targets' addresses at most this often
def _state(value: str | Measured) -> str:
    """A fact without its measurement: a change of measurement alone is no event."""
    return value.state if isinstance(value, Measured) else value


def _quietly(look: Callable[[], Mapping[str, T]]) -> Mapping[str, T]:
    """Take one look; a look that fails (a store mid-failover, a port not published) sees nothing."""
    try:
        return look()
    except Exception:  # the watch must never break a test
        return {}
