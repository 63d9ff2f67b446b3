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
from typing import TYPE_CHECKING

from .errors import NotSteady
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
    return [f"fault {subject} is still active" for subject in active] + stack.not_steady()


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
