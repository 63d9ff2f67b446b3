"""Bring a stack back to its declared state, whatever was done to it, and check it is healthy.

``restore`` needs no record of the faults (``azchaos heal --all`` after a crashed
command, or a test whose heal failed): it starts stopped or killed containers,
unpauses paused ones, reconnects AZ members to the regional network, and removes
every toxic and re-enables every Toxiproxy proxy. ``ensure_healthy`` is what the
plugin runs between tests: the next test starts from a healthy stack, or fails
with a message that says what is not.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from ..errors import FaultError, StackError
from ..stack.model import REGIONAL
from .toxiproxy import ToxiproxyApi

if TYPE_CHECKING:
    from ..stack import Member, Stack

STOPPED = ("exited", "created", "dead")  # states a start brings back


def restore(stack: Stack, *, timeout_s: float = 120) -> list[str]:
    """Undo every fault on ``stack`` and wait until it is ready; return what was done."""
    # What is started or reconnected stays out of the LB until ready (Stack.hold_out).
    stopped = [m for m in stack.members_all if stack.backend.state(m.container) in STOPPED]
    coming_back = stopped + [m for m in stack.members_all
                             if m not in stopped and m.az != REGIONAL and not _on_region(stack, m)]
    if coming_back:
        stack.hold_out(coming_back)
    done = _containers(stack)
    stack.forget_ports(stopped)  # a started container is published on new ports
    done += _networks(stack)
    done += _links(stack, started={m.container for m in stopped})
    # Always: wait until ready (what a record's own heal started may still be starting), then
    # register every target with the LB again. A member that another process took out (a drained
    # MinIO node whose fault record was lost) is running and ready, yet not among the targets.
    stack.recover(stack.members_all, timeout_s=timeout_s)
    return done


def ensure_healthy(stack: Stack, *, timeout_s: float = 120) -> None:
    """Return once every member is ready; if one is not, restore the stack first. Raise StackError
    naming what is still not ready when ``timeout_s`` is up. Members a failed heal held out of
    service (Stack.hold_out) are let back in by the restore too."""
    if not stack.not_ready(stack.members_all) and not stack.held_out:
        return
    try:
        restore(stack, timeout_s=timeout_s)
    except StackError as exc:
        raise StackError(f"the stack is not healthy after the test and could not be restored: {exc}") from exc


def _containers(stack: Stack) -> list[str]:
    done = []
    for member in stack.members_all:
        state = stack.backend.state(member.container)
        if state == "paused":
            stack.backend.unpause([member.container])
            done.append(f"unpaused {member.alias}")
        elif state in STOPPED:
            stack.backend.start([member.container])
            done.append(f"started {member.alias}")
    return done


def _networks(stack: Stack) -> list[str]:
    """Reconnect AZ members that were cut off the regional network (an AZ network outage)."""
    done = []
    for member in stack.members_all:
        if member.az == REGIONAL or _on_region(stack, member):
            continue
        with contextlib.suppress(Exception):  # e.g. connected meanwhile
            stack.backend.connect(member.container, stack.network(REGIONAL), [member.alias])
            done.append(f"reconnected {member.alias}")
    return done


def _on_region(stack: Stack, member: Member) -> bool:
    return stack.network(REGIONAL) in stack.backend.networks_of(member.container)


def _links(stack: Stack, *, started: set[str]) -> list[str]:
    """Remove every toxic and enable every proxy of each running Toxiproxy. One just ``started``
    is left alone: it read its proxies, all enabled and without toxics, from its configuration,
    and its API may not listen yet."""
    done = []
    proxies = {link.proxy for link in stack.links()}
    for proxy in (m for m in stack.members_all if m.alias in proxies):
        if proxy.container in started or stack.backend.state(proxy.container) != "running":
            continue
        api = ToxiproxyApi(f"http://127.0.0.1:{stack.host_port(proxy)}", name=proxy.alias)
        try:
            done += api.restore()
        except FaultError as exc:
            raise StackError(f"restoring the links failed: {exc} (docker logs {proxy.container})") from exc
    return done
