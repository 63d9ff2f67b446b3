"""Watch the stack while faults act, and put what changes on the timeline.

Events recorded (kind, subject, detail):

- ``target``, e.g. ``app-a-1``, "unhealthy" / "healthy": an app replica stops or starts
  answering its health check, as the load balancer's health checks see it;
- ``failover``, ``db``, "leader db-a-1 -> db-b-1": Patroni has a new leader
  (``db-leader``, "none" while there is no leader at all);
- ``drives``, ``s3``, "4/6 online": MinIO's drives going offline or back online;
- ``replication``, ``db/db-b-1``, "streaming sync, lag 0 B": a standby's state or sync state
  changed (its lag in bytes at that moment is in the detail; a change of lag alone is no event);
- ``sync``, ``db``, "sync standby db-b-1" / "no synchronous standby": a synchronous DB has or
  loses a standby that Patroni recorded as synchronous and that streams (recorded at the start
  too: writes acknowledged without one can be lost with the primary).

Each kind of fact is polled in its own thread every 0.25 s, and a change is stamped with
the time its look began: it happened at most one interval (plus one look) before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .roles import ROLES
from .roles.base import health_path, http_ok
from .timeline import DB_LEADER, FAILOVER, NO_SYNC, SYNC, Timeline

if TYPE_CHECKING:
    from .stack import Member, Stack


class HealthWatch:
    """Poll ``stack`` every ``interval_s`` in the background and record changes on ``timeline``."""

    def __init__(self, stack: Stack, timeline: Timeline, *, interval_s: float = 0.25) -> None:
        self.stack = stack
        self.timeline = timeline
        self.interval_s = interval_s
        self.facts: dict[str, str] = {}
        self._leaders: dict[str, str] = {}  # DB service -> its last known leader
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="azchaos-watch")

    def start(self) -> HealthWatch:
        """Take a first look (no events for it), then watch in the background: one thread per
        look, so that a slow one (MinIO's admin API mid-failure) never delays another."""
        self.facts = self.snapshot()
        for name, value in self.facts.items():
            if name.startswith("sync "):  # the state writes start in: checks need it to explain losses
                self.timeline.record(SYNC, name[5:], value)
        self._leaders = {name[7:]: v for name, v in self.facts.items() if name.startswith("leader ") and v != "none"}
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

    def _run(self, look: Callable[[], dict[str, str]]) -> None:
        while not self._stop.wait(self.interval_s):
            seen_at = time.monotonic()  # a change happened before the look began: stamp it then
            self.update(_quietly(look), at=seen_at)

    def update(self, facts: dict[str, str], *, at: float | None = None) -> None:
        """Record an event for each fact that changed since the last look."""
        with self._lock:
            for name, value in facts.items():
                old = self.facts.get(name)
                if old is None or _essence(old) == _essence(value):
                    continue
                kind, subject = name.split(" ", 1)
                if kind == "leader":
                    self._leader_changed(subject, value, at)
                else:
                    self.timeline.record(kind, subject, value, at=at)
            self.facts.update(facts)

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

    def snapshot(self) -> dict[str, str]:
        """Look at the stack once: each app target's health, each DB service's leader, MinIO's drives."""
        facts: dict[str, str] = {}
        for found in self._pool.map(_quietly, self._looks()):
            facts.update(found)
        return facts

    def _looks(self) -> list[Callable[[], dict[str, str]]]:
        return [self._target_facts, self._leader_facts, self._drive_facts, self._replication_facts]

    def _target_facts(self) -> dict[str, str]:
        stack = self.stack
        apps = stack.members(role="app")

        def health(m: Member) -> str:
            ok = stack.is_running(m) and http_ok(stack.url(m, m.port, health_path(stack, m)), timeout_s=1)
            return "healthy" if ok else "unhealthy"

        return {f"target {m.alias}": state for m, state in zip(apps, self._pool.map(health, apps), strict=True)}

    def _leader_facts(self) -> dict[str, str]:
        role = ROLES["db"]
        facts = {}
        for service in dict.fromkeys(m.service for m in self.stack.members(role="db")):
            cluster = role.cluster(self.stack, self.stack.members(role="db", service=service)) or {}  # type: ignore[attr-defined]
            leader = next((n.get("name") for n in cluster.get("members", [])
                           if n.get("role") == "leader" and n.get("state") == "running"), None)
            facts[f"leader {service}"] = leader or "none"
        return facts

    def _drive_facts(self) -> dict[str, str]:
        members = self.stack.members(role="s3")
        if not members:
            return {}
        online, total = ROLES["s3"].drives(self.stack, members)  # type: ignore[attr-defined]
        if not online:  # no node answered MinIO's admin API in time: nothing seen, nothing to record
            return {}
        return {f"drives {members[0].service}": f"{online}/{total} online"}


    def _replication_facts(self) -> dict[str, str]:
        role: Any = ROLES["db"]
        facts = {}
        for service in dict.fromkeys(m.service for m in self.stack.members(role="db")):
            leader, nodes, replication = role.view(self.stack, service)
            if leader is None:  # no leader, no replication to look at (the leader look records that)
                continue
            for name, node in nodes.items():
                if name != leader:
                    repl = replication.get(name, {})
                    lag = node.get("lag")
                    facts[f"replication {service}/{name}"] = (
                        f"{repl.get('state') or node.get('state')} {repl.get('sync_state') or node.get('role')}"
                        + (f", lag {lag} B" if isinstance(lag, int) else ""))
            synced = [name for name, node in nodes.items() if node.get("role") == "sync_standby"
                      and replication.get(name, {}).get("state") == "streaming"]
            # An asynchronous DB never has one: every write it acknowledges can be lost with the
            # primary, and a lost-writes verdict must say so rather than blame nothing.
            facts[f"sync {service}"] = f"sync standby {synced[0]}" if synced else NO_SYNC
        return facts


def _essence(value: str) -> str:
    """A fact without its measurement (", lag 123 B"): a change of lag alone is no event."""
    return value.split(", lag ", 1)[0]


def _quietly(look: Callable[[], dict[str, str]]) -> dict[str, str]:
    """Take one look; a look that fails (a store mid-failover, a port not published) sees nothing."""
    try:
        return look()
    except Exception:  # the watch must never break a test
        return {}
