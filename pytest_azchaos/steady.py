"""The steady-state hypothesis: what must hold right before a fault is injected.

A verdict about a fault is only worth something if the fault hit a steady stack
(Chaos Toolkit checks its steady-state hypothesis before and after). Steady means:

- every member's container is running;
- every app target answers its health check;
- the DB has a Patroni leader and, when the service is synchronous, a standby that
  Patroni recorded as ``sync_standby`` and that streams (only that one may be promoted
  without losing acknowledged writes);
- every MinIO drive is online;
- no other fault is active (faults meant to act together are one ``Combined`` fault,
  or the caller passes ``steady=False``).

If the stack is not steady, :func:`wait_steady` waits (bounded) and then raises
:class:`~pytest_azchaos.errors.NotSteady`: "stack not steady: <what>", which is
neither an SLO failure nor a broken stack.

The bound comes from the call (``azchaos.inject(fault, steady="30s")``), else from
the environment file (``steady: {timeout: 60s}``), else ``DEFAULT_TIMEOUT_S``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import NotSteady, StackError
from .roles import ROLES
from .roles.base import health_path, http_ok
from .timeline import NO_SYNC
from .units import parse_duration

if TYPE_CHECKING:
    from .stack import Stack

DEFAULT_TIMEOUT_S = 60.0


def timeout_s(stack: Stack, steady: bool | float | str | None) -> float | None:
    """The bound of the wait before a fault, or None when the check is off."""
    if steady is False:
        return None
    if steady is None or steady is True:
        configured = getattr(stack.topology, "steady", {}) or {}
        if configured.get("check") is False:
            return None
        steady = configured.get("timeout", DEFAULT_TIMEOUT_S)
    return parse_duration(steady, what="steady-state timeout")


def not_steady(stack: Stack, active: Sequence[str] = ()) -> list[str]:
    """Return why ``stack`` is not steady (empty when it is); ``active`` are faults still in effect."""
    reasons = [f"fault {subject} is still active" for subject in active]
    for look in (_db, _containers, _targets, _drives):
        try:
            reasons += look(stack)
        except (StackError, OSError) as exc:  # e.g. a port not published: that is a reason too
            reasons.append(f"{look.__name__.strip('_')}: {exc}")
    return reasons


def wait_steady(stack: Stack, *, timeout_s: float, active: Callable[[], Sequence[str]] = tuple,
                interval_s: float = 0.5, what: str = "") -> float:
    """Wait until ``stack`` is steady; return the seconds waited. Raise NotSteady after ``timeout_s``."""
    start = time.monotonic()
    while True:
        reasons = not_steady(stack, active())
        if not reasons:
            return time.monotonic() - start
        waited = time.monotonic() - start
        if waited >= timeout_s:
            before = f" before {what}" if what else ""
            raise NotSteady(reasons, f"{'; '.join(reasons)} (waited {waited:.1f} s{before})")
        time.sleep(interval_s)


def _containers(stack: Stack) -> list[str]:
    states = {m.alias: stack.backend.state(m.container) for m in stack.members_all}
    return [f"{alias} is {state}" for alias, state in states.items() if state != "running"]


def _targets(stack: Stack) -> list[str]:
    return [f"target {m.alias} unhealthy" for m in stack.members(role="app")
            if stack.is_running(m) and not http_ok(stack.url(m, m.port, health_path(stack, m)))]


def _db(stack: Stack) -> list[str]:
    role: Any = ROLES["db"]
    reasons = []
    for service in dict.fromkeys(m.service for m in stack.members(role="db")):
        leader, nodes, replication = role.view(stack, service)
        if leader is None:
            reasons.append(f"{service}: no leader")
            continue
        if not stack.topology.service(service).options.get("synchronous"):
            continue
        recorded = [name for name, n in nodes.items() if n.get("role") == "sync_standby"]
        streaming = [name for name in recorded if replication.get(name, {}).get("state") == "streaming"]
        if not streaming:
            why = (f"{', '.join(recorded)} recorded but not streaming" if recorded
                   else f"standbys: {_standbys(nodes, replication, leader)}")
            reasons.append(f"{service}: {NO_SYNC} ({why})")
    return reasons


def _standbys(nodes: dict[str, Any], replication: dict[str, Any], leader: str) -> str:
    found = [f"{name} {replication.get(name, {}).get('state') or n.get('state')}"
             f"/{replication.get(name, {}).get('sync_state') or n.get('role')}"
             for name, n in nodes.items() if name != leader]
    return ", ".join(found) or "none"


def _drives(stack: Stack) -> list[str]:
    members = [m for m in stack.members(role="s3")]
    if not members:
        return []
    online, total = ROLES["s3"].drives(stack, members)  # type: ignore[attr-defined]
    return [] if online == total else [f"{members[0].service}: {online}/{total} drives online"]
