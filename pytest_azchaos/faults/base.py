"""The fault protocol and the nemesis that injects faults, tracks them and heals them all."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..errors import FaultError
from ..timeline import Event, Timeline

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

    def inject(self, stack: Stack) -> None: ...

    def heal(self, stack: Stack) -> None: ...


class ActiveFault:
    """An injected fault: heal it with ``heal()`` or by leaving its ``with`` block."""

    def __init__(self, nemesis: Nemesis, fault: Fault) -> None:
        self.nemesis = nemesis
        self.fault = fault
        self.healed = False

    def heal(self) -> None:
        """Heal the fault (again is a no-op)."""
        self.nemesis.heal(self)

    def __enter__(self) -> ActiveFault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.heal()


class Nemesis:
    """Inject faults into one stack, record them on the timeline, and heal every one of them."""

    def __init__(
        self, stack: Stack, timeline: Timeline,
        observer: Callable[[str, Fault, Event], None] | None = None,
    ) -> None:
        self.stack = stack
        self.timeline = timeline
        self.observer = observer
        self.active: list[ActiveFault] = []
        self._lock = threading.Lock()

    def inject(self, fault: Fault) -> ActiveFault:
        """Validate, inject and record ``fault``; return a handle that heals it."""
        fault.validate(self.stack)
        active = ActiveFault(self, fault)
        with self._lock:
            self.active.append(active)
        event = self.timeline.record("inject", fault.subject)
        try:
            fault.inject(self.stack)
        except Exception as exc:
            raise FaultError(f"injecting {fault.subject} failed: {exc}") from exc
        if self.observer:
            self.observer("inject", fault, event)
        return active

    def heal(self, active: ActiveFault) -> None:
        """Heal one injected fault and record it."""
        with self._lock:
            if active.healed:
                return
            active.healed = True
            self.active.remove(active)
        try:
            active.fault.heal(self.stack)
        except Exception as exc:
            raise FaultError(f"healing {active.fault.subject} failed: {exc}") from exc
        finally:
            event = self.timeline.record("heal", active.fault.subject)
            if self.observer:
                self.observer("heal", active.fault, event)

    def heal_all(self) -> list[str]:
        """Heal every fault still active, newest first; return the errors, if any."""
        errors = []
        while self.active:
            try:
                self.heal(self.active[-1])
            except FaultError as exc:
                errors.append(str(exc))
        return errors
