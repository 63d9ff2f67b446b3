"""The fault protocol and the nemesis that injects faults, tracks them and heals them all."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..errors import ConfigError, FaultError, NotSteady
from ..steady import timeout_s, wait_steady
from ..timeline import HEAL, INJECT, NOT_STEADY, STEADY, Event, Timeline
from ..units import parse_duration

if TYPE_CHECKING:
    from ..stack import Stack


class Fault(Protocol):
    """A fault: configuration only; ``inject`` and ``heal`` act on a stack."""

    @property
    def subject(self) -> str:
        """How the fault reads on the timeline, e.g. "outage(a, power)"."""
        ...

    def validate(self, stack: Stack) -> None:
        """Raise ConfigError if the fault does not fit the stack; change nothing."""

    def inject(self, stack: Stack) -> Fault | None:
        """Act on ``stack``; return the fault as it hit (what ``heal`` must undo, e.g. the node
        that led when ``db-primary`` was targeted), or None when that is the fault itself."""

    def heal(self, stack: Stack) -> None: ...


class ActiveFault:
    """An injected fault: heal it with ``heal()``, by leaving its ``with`` block, or let its
    duration run out."""

    def __init__(self, nemesis: Nemesis, fault: Fault, *, duration_s: float | None = None) -> None:
        self.nemesis = nemesis
        self.fault = fault
        self.duration_s = duration_s
        self.injected: Fault = fault  # the fault as it hit: what healing undoes
        self.healed = False
        self.error: FaultError | None = None  # of a heal that ran when the duration was up
        self._done = threading.Event()
        self._timer: threading.Timer | None = None

    def heal(self) -> None:
        """Heal the fault (again is a no-op)."""
        self.nemesis.heal(self)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the fault is healed (e.g. its duration is up); return False on timeout."""
        return self._done.wait(timeout_s)

    def __enter__(self) -> ActiveFault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.heal()


@dataclass(frozen=True)
class Combined:
    """Several faults as one: injected in order, healed in reverse order.

    If injecting one fails, those already injected are healed again. Example::

        azchaos.inject(Combined((AzOutage("a", mode="freeze"), LinkToxic("b/app->db", "latency", (("latency", 200),)))))
    """

    faults: tuple[Fault, ...]

    @property
    def subject(self) -> str:
        return " + ".join(f.subject for f in self.faults)

    def validate(self, stack: Stack) -> None:
        if not self.faults:
            raise ConfigError("a combined fault needs at least one fault")
        for fault in self.faults:
            fault.validate(stack)

    def inject(self, stack: Stack) -> Combined:
        done: list[Fault] = []
        try:
            for fault in self.faults:
                done.append(fault.inject(stack) or fault)
        except Exception:
            for fault in reversed(done):
                fault.heal(stack)
            raise
        return Combined(tuple(done))

    def heal(self, stack: Stack) -> None:
        errors = []
        for fault in reversed(self.faults):
            try:
                fault.heal(stack)
            except Exception as exc:  # heal the others anyway, then report every failure
                errors.append(f"{fault.subject}: {exc}")
        if errors:
            raise FaultError("; ".join(errors))


class Nemesis:
    """Inject faults into one stack, record them on the timeline, and heal every one of them."""

    def __init__(
        self, stack: Stack, timeline: Timeline,
        observer: Callable[[str, Fault, Event], None] | None = None, *, steady: bool = False,
    ) -> None:
        self.stack = stack
        self.steady = steady  # check the steady state before each fault (pytest_azchaos.steady)
        self.timeline = timeline
        self.observer = observer
        self.active: list[ActiveFault] = []
        self.errors: list[str] = []  # of heals that ran on their own (durations)
        self._lock = threading.Lock()

    def inject(self, fault: Fault, *, duration: float | str | None = None,
               steady: bool | float | str | None = None) -> ActiveFault:
        """Validate, inject and record ``fault``; return a handle that heals it.

        With a ``duration`` ("10s", "500ms"), the fault heals itself when it is up. Before it,
        if this nemesis checks the steady state, wait for it (``steady``: a bound such as "30s",
        None for the environment's, False for no check) or raise NotSteady.
        """
        duration_s = None if duration is None else parse_duration(duration, what="fault duration")
        fault.validate(self.stack)
        if self.steady:
            self._wait_steady(fault, steady)
        active = ActiveFault(self, fault, duration_s=duration_s)
        with self._lock:
            self.active.append(active)
        event = self.timeline.record(INJECT, fault.subject, f"for {duration_s:g} s" if duration_s else "")
        try:
            active.injected = fault.inject(self.stack) or fault
        except Exception as exc:  # it may have half-happened: it stays active, to be healed at the end
            raise FaultError(f"injecting {fault.subject} failed: {exc}") from exc
        if self.observer:
            self.observer("inject", fault, event)
        if duration_s is not None:
            active._timer = threading.Timer(duration_s, self._expire, args=(active,))
            active._timer.daemon = True
            active._timer.start()
        return active

    def _wait_steady(self, fault: Fault, steady: bool | float | str | None) -> None:
        bound = timeout_s(self.stack, steady)
        if bound is None:
            return
        try:
            waited = wait_steady(self.stack, timeout_s=bound, what=fault.subject,
                                 active=lambda: [a.fault.subject for a in list(self.active)])
        except NotSteady as exc:
            self.timeline.record(NOT_STEADY, fault.subject, "; ".join(exc.reasons))
            raise
        if waited >= 0.5:
            self.timeline.record(STEADY, fault.subject, f"after waiting {waited:.1f} s")

    def _expire(self, active: ActiveFault) -> None:
        try:
            self.heal(active)
        except FaultError as exc:  # nobody to raise it to: keep it for heal_all() and the test
            active.error = exc
            self.errors.append(str(exc))

    def heal(self, active: ActiveFault) -> None:
        """Heal one injected fault and record it."""
        with self._lock:
            if active.healed:
                return
            active.healed = True
            if active in self.active:
                self.active.remove(active)
        if active._timer is not None and active._timer is not threading.current_thread():
            active._timer.cancel()
        # Stamped when healing begins, as an injection is: its effect (containers started, links
        # restored) begins then, while heal() may go on waiting for the healed members to be ready.
        began = time.monotonic()
        try:
            active.injected.heal(self.stack)
        except Exception as exc:
            raise FaultError(f"healing {active.fault.subject} failed: {exc}") from exc
        finally:
            event = self.timeline.record(HEAL, active.fault.subject, at=began)
            active._done.set()
            if self.observer:
                self.observer("heal", active.fault, event)

    def heal_all(self) -> list[str]:
        """Heal every fault still active, newest first; return the errors, if any (also those of
        faults that healed themselves when their duration was up)."""
        errors = []
        while self.active:
            try:
                self.heal(self.active[-1])
            except FaultError as exc:
                errors.append(str(exc))
        errors, self.errors = self.errors + errors, []
        return errors
