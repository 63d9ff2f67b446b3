"""A random nemesis for game days: faults, targets and durations drawn from a seed.

The plan is a pure function of the seed, the limits and the stack's topology, so
a run that found something can be replayed exactly: the seed is on the timeline.
Faults come one at a time (a pause, a fault for its duration, a pause, ...), so
two faults never overlap.

Example::

    with azchaos.random_nemesis(seed=7, duration="60s", max_fault="10s"):
        ...  # traffic flows meanwhile
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError, FaultError, NotSteady
from ..timeline import NEMESIS
from ..units import parse_duration
from .az import AZ_MODES, AzOutage
from .instance import PRIMARY, InstanceFault
from .links import LinkToxic

if TYPE_CHECKING:
    from ..stack import Stack
    from .base import ActiveFault, Fault, Nemesis


@dataclass(frozen=True)
class Step:
    """One fault of the plan: injected ``offset_s`` after the start, healed ``duration_s`` later."""

    offset_s: float
    fault: Fault
    duration_s: float


def candidates(stack: Stack) -> list[Fault]:
    """Every fault the random nemesis may pick on ``stack``, in a stable order."""
    found: list[Fault] = [AzOutage(az, mode=mode) for az in stack.topology.azs for mode in AZ_MODES]
    found += [InstanceFault(m.alias, action) for m in stack.members(role="app") for action in ("kill", "pause")]
    if stack.has_primaries():
        found.append(InstanceFault(PRIMARY, "kill"))
    for link in (k for k in stack.links() if k.nemesis):  # the paths of the app's requests
        found.append(LinkToxic(link.name, "latency", (("jitter", 50), ("latency", 200))))
        found.append(LinkToxic(link.name, "reset_peer", (("timeout", 0),), toxicity=0.5))
    return found


def plan(faults: Sequence[Fault], *, seed: int, duration_s: float, fault_s: tuple[float, float] = (5, 15),
         pause_s: tuple[float, float] = (2, 10)) -> list[Step]:
    """Return the steps of a random schedule within ``duration_s``: same arguments, same plan."""
    _check_limits(faults, duration_s, fault_s, pause_s)
    rng = random.Random(seed)
    steps: list[Step] = []
    t = 0.0
    while True:
        t += rng.uniform(*pause_s)
        length = rng.uniform(*fault_s)
        if t + length > duration_s:
            return steps
        steps.append(Step(round(t, 3), rng.choice(list(faults)), round(length, 3)))
        t += length


def _check_limits(faults: Sequence[Fault], duration_s: float, fault_s: tuple[float, float],
                  pause_s: tuple[float, float]) -> None:
    if not faults:
        raise ConfigError("the random nemesis needs at least one fault to choose from")
    for name, (low, high) in (("fault duration", fault_s), ("pause", pause_s)):
        if not 0 <= low <= high:
            raise ConfigError(f"random nemesis: {name} limits must be 0 <= min <= max, found {low:g}..{high:g}")
    if fault_s[1] <= 0:
        raise ConfigError("random nemesis: the longest fault must be longer than 0 s")
    if duration_s <= 0:
        raise ConfigError(f"random nemesis: the duration must be > 0, found {duration_s:g} s")


class RandomNemesis:
    """Run a plan against a stack in the background, through the nemesis (so everything is on the
    timeline and healed at the end); leaving the ``with`` block stops it and heals the current fault."""

    def __init__(self, nemesis: Nemesis, steps: Sequence[Step], *, seed: int) -> None:
        self.nemesis = nemesis
        self.steps = list(steps)
        self.seed = seed
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="azchaos-random-nemesis", daemon=True)
        self._current: ActiveFault | None = None

    def start(self) -> RandomNemesis:
        """Start the schedule (again is a no-op: ``random_nemesis()`` starts it, ``with`` enters it)."""
        if self._thread.is_alive() or self._thread.ident is not None:
            return self
        summary = ", ".join(f"+{s.offset_s:g}s {s.fault.subject} for {s.duration_s:g}s" for s in self.steps)
        self.nemesis.timeline.record(NEMESIS, f"random(seed={self.seed})", summary or "no fault fits")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        current = self._current
        if current is not None:
            current.heal()

    def __enter__(self) -> RandomNemesis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        t0 = time.monotonic()
        for step in self.steps:
            if self._stop.wait(max(0.0, t0 + step.offset_s - time.monotonic())):
                return
            try:
                self._current = self.nemesis.inject(step.fault, duration=step.duration_s, steady=False)  # its plan
            except (FaultError, ConfigError, NotSteady) as exc:  # e.g. no DB primary right now: go on with the plan
                self.errors.append(str(exc))
                continue
            while not self._current.wait(0.2):
                if self._stop.is_set():
                    return
            self._current = None


def parse_limits(fault: tuple[float | str, float | str], pause: tuple[float | str, float | str]
                 ) -> tuple[tuple[float, float], tuple[float, float]]:
    """Parse ("5s", "15s")-style limits once."""
    return ((parse_duration(fault[0], what="min_fault"), parse_duration(fault[1], what="max_fault")),
            (parse_duration(pause[0], what="min_pause"), parse_duration(pause[1], what="max_pause")))
