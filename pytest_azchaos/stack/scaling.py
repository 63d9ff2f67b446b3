"""Capacity like an Auto Scaling group: replace an app replica that stays down.

Off unless an app service sets ``replace_after`` (e.g. ``30s``, the grace
period). A replica that is not running for that long is replaced by a new one
in the surviving AZ with the fewest replicas of the service, registered with
the load balancer once healthy. There is no scale-in: when the lost replica
comes back (its AZ healed), both run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .stack import Member, Stack

POLL_S = 0.5


class AutoScaling:
    """A background thread that keeps each app service at its declared capacity."""

    def __init__(self, stack: Stack, images: dict[tuple[str, str], str]) -> None:
        self.stack = stack
        self.images = images
        self.replaced: set[str] = set()  # containers already replaced
        self.events: list[tuple[float, str]] = []
        self._down_since: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="azchaos-autoscaling", daemon=True)

    @classmethod
    def start_for(cls, stack: Stack, images: dict[tuple[str, str], str]) -> AutoScaling | None:
        """Start auto scaling if any app service asks for it."""
        if not any(s.options.get("replace_after") is not None for s in stack.topology.services):
            return None
        scaling = cls(stack, images)
        scaling._thread.start()
        return scaling

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=70)

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.check()
            except Exception as exc:  # keep watching; say what went wrong
                self.stack.progress(f"auto scaling: {exc}")

    def check(self) -> None:
        """Replace every app replica that has been down longer than its grace period."""
        now = time.monotonic()
        for member in list(self.stack.members_all):
            grace = self.stack.topology.service(member.service).options.get("replace_after")
            if grace is None or member.role != self.stack.topology.service(member.service).role \
                    or member.container in self.replaced:
                continue
            if self.stack.is_running(member):
                self._down_since.pop(member.container, None)
                continue
            if now - self._down_since.setdefault(member.container, now) >= grace:
                self.replace(member)

    def replace(self, dead: Member) -> Member | None:
        """Start a replacement of ``dead`` in the surviving AZ with the fewest replicas."""
        service = self.stack.topology.service(dead.service)
        alive = [m for m in self.stack.members(role=dead.role, service=dead.service) if self.stack.is_running(m)]
        azs = [az for az in service.azs if any(m.az == az for m in alive)]
        if not azs:
            return None  # no AZ left to place it in; try again later
        az = min(azs, key=lambda a: (sum(m.az == a for m in alive), a))
        number = 1 + max(m.replica for m in self.stack.members_all if m.service == dead.service and m.az == az)
        alias = f"{dead.service}-{az}-{number}"
        member = replace(dead, az=az, replica=number, alias=alias,
                         container=self.stack.container_of(alias), replacement=True)
        self.replaced.add(dead.container)
        self.stack.progress(f"auto scaling: {dead.alias} down for {service.options['replace_after']:g} s; "
                            f"starting {alias} in AZ {az}")
        self.stack.add_member(member, self.images[(dead.service, dead.role)])
        self.events.append((time.monotonic(), f"replaced {dead.alias} by {alias}"))
        return member
