"""Run a game-day scenario on a running stack: its steps in order, every fault healed whatever happens.

The engine is the one tests use: an :class:`~pytest_azchaos.Experiment` (the nemesis with its
steady-state check, open-loop traffic, the timeline) and a :class:`~pytest_azchaos.watch.HealthWatch`
whose facts (DB leader, sync standby) the live view shows. Faults are also recorded per stack, as
``azchaos fault`` records them, so that ``azchaos status`` in another terminal lists them and
``azchaos heal --all`` heals them if this process is killed outright.

Example::

    scenario = load_scenario("examples/gamedays/az-power-loss.yaml")
    result = GameDay(scenario, Stack.attach(run_id)).run()
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import Experiment, Stack
from .checks import SLOResult, evaluate, percentile
from .errors import AzChaosError, FaultError
from .faults import ActiveFault, Fault
from .faults.registry import default_registry
from .faults.state import FaultState
from .gameday_scenario import Scenario, Step, check_against
from .history import OK, UNKNOWN, History, Operation
from .readback import read_back
from .timeline import SYNC, Event, Timeline
from .traffic import DEFAULT_WORKLOAD, Traffic, Workload
from .watch import HealthWatch
from .workloads import example_app

TICK_S = 0.2  # how often a waiting step looks at its traffic and at Ctrl-C
RECENT_S = 10.0  # the live view's rate, errors and p99 are over this many seconds


class LiveHistory(History):
    """A history that also keeps the last seconds of operations and a running count of failures,
    so that a live view once a second costs the same after an hour as after a minute."""

    def __init__(self) -> None:
        super().__init__()
        self.recent: deque[Operation] = deque()
        self.not_ok = 0

    def append(self, op: Operation) -> None:
        super().append(op)
        with self._lock:
            self.recent.append(op)
            self.not_ok += op.outcome != OK
            while self.recent and self.recent[0].end < op.end - RECENT_S:
                self.recent.popleft()

    def last(self, seconds: float) -> list[Operation]:
        """Operations that ended in the last ``seconds`` (at most RECENT_S)."""
        since = time.monotonic() - seconds
        with self._lock:
            return [op for op in self.recent if op.end >= since]


@dataclass
class Status:
    """What the live view shows, taken at one moment."""

    elapsed_s: float
    step: str
    step_number: int
    steps: int
    step_left_s: float | None
    faults: list[str]
    rate_per_s: float
    target_rate_per_s: float
    errors: int
    recent_errors: int
    p99_s: float | None
    leader: str
    sync_standby: str
    done: bool = False


@dataclass
class Expectation:
    """An expect step, reached at ``until``: its SLOs are evaluated over [since, until] at the end."""

    step: Step
    since: float
    until: float


@dataclass
class GameDayResult:
    """What a game day found: verdicts per expect step, and whether it ran to its end."""

    scenario: Scenario
    run_id: str
    started_wall: float
    duration_s: float
    completed: bool
    aborted: str | None
    verdicts: list[tuple[Step, SLOResult]]
    heal_errors: list[str]
    history: History
    timeline: Timeline
    steps_done: int

    @property
    def passed(self) -> bool:
        return self.completed and not self.heal_errors and all(r.passed for _, r in self.verdicts)


@dataclass
class _Running:
    traffic: Traffic
    ends: float | None  # monotonic; None: until the end of the scenario
    rate_per_s: float


class GameDay:
    """Run ``scenario`` on ``stack``; :meth:`status` may be called from another thread meanwhile."""

    def __init__(self, scenario: Scenario, stack: Stack) -> None:
        check_against(scenario, stack)
        self.scenario = scenario
        self.stack = stack
        self.experiment = Experiment(stack, observer=self._observe, watch=False, steady=True,
                                     read_back=read_back)  # lost_writes: the example app's stores
        self.history = self.experiment.history = LiveHistory()
        self.watch = HealthWatch(stack, self.experiment.timeline)
        self.registry = default_registry()
        self.state = FaultState(stack.run_id)
        self._recorded: dict[int, str] = {}  # id(fault) -> its id in the stack's fault state
        self._named: dict[str, ActiveFault] = {}
        self._traffic: list[_Running] = []
        self._marks: dict[str, float] = {}
        self._expectations: list[Expectation] = []
        self._step: tuple[int, Step | None, float | None] = (0, None, None)  # number, step, ends (monotonic)
        self._started = time.monotonic()
        self._done = False

    # -- running ---------------------------------------------------------------------------------

    def run(self) -> GameDayResult:
        """Run every step, then heal everything and evaluate the expectations. Ctrl-C (KeyboardInterrupt)
        stops the steps early; the result then says so, and everything is healed all the same."""
        started_wall, self._started = time.time(), time.monotonic()
        aborted: str | None = None
        done = 0
        self.watch.start()
        try:
            for number, step in enumerate(self.scenario.steps, 1):
                self._step = (number, step, None)
                self._do(step)
                done = number
            self._finish_traffic()
        except KeyboardInterrupt:
            aborted = f"interrupted (Ctrl-C) in step {done + 1}"
        except AzChaosError as exc:
            aborted = f"step {done + 1} ({self.scenario.where(self.scenario.steps[done])}) failed: {exc}"
        finally:
            heal_errors = self.stop()
        return GameDayResult(self.scenario, self.stack.run_id, started_wall, time.monotonic() - self._started,
                             aborted is None, aborted, self._verdicts(), heal_errors, self.history,
                             self.experiment.timeline, done)

    def stop(self) -> list[str]:
        """Stop traffic and heal every fault (Ctrl-C waits for it); return the errors of healing."""
        with deferred_interrupt(then_raise=False):
            self._step = (self._step[0], None, None)
            errors = self.experiment.finish()
            self.watch.stop()
            self._done = True
        return errors

    def _do(self, step: Step) -> None:
        if step.kind == "traffic":
            self._start_traffic(step)
        elif step.fault is not None:
            self._inject(step)
        elif step.kind == "wait":
            self._sleep(step.duration_s or 0)
        elif step.kind == "heal":
            self._heal(step)
        elif step.kind == "mark":
            self._marks[step.name or ""] = time.monotonic()
        elif step.kind == "expect":
            since = self._marks[step.name] if step.name else self._started
            self._expectations.append(Expectation(step, since, time.monotonic()))

    def _start_traffic(self, step: Step) -> None:
        workload: Workload = example_app() if step.workload == "example-app" else DEFAULT_WORKLOAD
        traffic = self.experiment.traffic(rate_per_s=step.rate_per_s, workload=workload)
        ends = None if step.duration_s is None else time.monotonic() + step.duration_s
        self._traffic.append(_Running(traffic, ends, step.rate_per_s))

    def _inject(self, step: Step) -> None:
        assert step.fault is not None
        active = self.experiment.inject(step.fault, steady=None if step.steady else False)
        if step.name:
            self._named[step.name] = active
        if step.duration_s is not None:  # the step lasts as long as the fault
            self._sleep(step.duration_s)
            with deferred_interrupt():
                active.heal()

    def _heal(self, step: Step) -> None:
        with deferred_interrupt():
            if step.name:
                self._named[step.name].heal()
                return
            errors = self.experiment.nemesis.heal_all()
        if errors:
            raise FaultError("; ".join(errors))

    def _sleep(self, seconds: float) -> None:
        """Sleep, stopping traffic whose time is up meanwhile (in this thread: Ctrl-C lands here)."""
        ends = time.monotonic() + seconds
        self._step = (self._step[0], self._step[1], ends)
        while (left := ends - time.monotonic()) > 0:
            self._stop_expired_traffic()
            time.sleep(min(TICK_S, left))
        self._stop_expired_traffic()

    def _stop_expired_traffic(self) -> None:
        now = time.monotonic()
        for running in list(self._traffic):
            if running.ends is not None and running.ends <= now:
                running.traffic.stop()
                self._traffic.remove(running)

    def _finish_traffic(self) -> None:
        """After the last step, traffic with a duration runs to its end; the rest stops now."""
        self._step = (len(self.scenario.steps), Step("wait", 0, name="traffic to its end"), None)
        ends = [r.ends for r in self._traffic if r.ends is not None]
        if ends:
            self._sleep(max(ends) - time.monotonic())

    # -- faults on record ------------------------------------------------------------------------

    def _observe(self, kind: str, fault: Fault, event: Event) -> None:
        """Keep the stack's fault state in step: ``azchaos status`` lists these faults, and
        ``azchaos heal --all`` heals them if this process dies before it could."""
        try:
            if kind == "inject":
                record = self.registry.record(fault)
                hit = getattr(fault, "_hit", None)
                if hit:
                    record["hit"] = [m.alias for m in hit]
                self._recorded[id(fault)] = self.state.add(record, subject=fault.subject, injected_at=event.wall)
            elif id(fault) in self._recorded:
                self.state.remove(self._recorded.pop(id(fault)))
        except (AzChaosError, OSError):  # a fault type without a record: the nemesis still heals it
            pass

    # -- verdicts and status ---------------------------------------------------------------------

    def _verdicts(self) -> list[tuple[Step, SLOResult]]:
        verdicts: list[tuple[Step, SLOResult]] = []
        for expectation in self._expectations:
            slos = expectation.step.slos
            history = History([op for op in self.history.operations
                               if expectation.since <= op.scheduled <= expectation.until])
            timeline = window(self.experiment.timeline, expectation.since, expectation.until)
            readback = self.experiment.read_back() if slos.get("lost_writes") is not None else None
            try:
                results = evaluate(slos, history, timeline, readback=readback)
            except AzChaosError as exc:  # e.g. the read-back failed: the verdict says so
                results = [SLOResult(name, float("nan"), 0, False, f"{name}: {exc}") for name in slos]
            verdicts += [(expectation.step, r) for r in results]
        return verdicts

    def status(self) -> Status:
        """Take a look for the live view (any thread)."""
        number, step, ends = self._step
        now = time.monotonic()
        recent = self.history.last(5.0)
        answered = [op.latency for op in self.history.last(RECENT_S) if op.outcome != UNKNOWN]
        facts = self.watch.states()
        leader = next((v for k, v in facts.items() if k.startswith("leader ")), "n/a")
        sync = next((v for k, v in facts.items() if k.startswith("sync ")), "n/a")
        return Status(
            elapsed_s=now - self._started, step=step.title if step else ("done" if self._done else "healing"),
            step_number=number, steps=len(self.scenario.steps),
            step_left_s=None if ends is None else max(0.0, ends - now),
            faults=[a.fault.subject for a in list(self.experiment.nemesis.active)],
            rate_per_s=len(recent) / 5.0, target_rate_per_s=sum(r.rate_per_s for r in list(self._traffic)),
            errors=self.history.not_ok, recent_errors=sum(op.outcome != OK for op in recent),
            p99_s=percentile(answered, 99) if answered else None, leader=leader,
            sync_standby=sync.removeprefix("sync standby "), done=self._done)


def window(timeline: Timeline, since: float, until: float) -> Timeline:
    """The events between ``since`` and ``until`` (monotonic), and the last sync fact before ``since``
    (checks need the state writes were acknowledged in to explain a loss)."""
    events = timeline.events
    inside = [e for e in events if since <= e.mono <= until]
    sync_before = [e for e in events if e.mono < since and e.kind == SYNC][-1:]
    copy = Timeline()
    for event in sync_before + inside:
        copy.record(event.kind, event.subject, event.detail, at=event.mono)
    return copy


@contextlib.contextmanager
def deferred_interrupt(*, then_raise: bool = True) -> Iterator[None]:
    """Let Ctrl-C wait until the block is done (a heal cut in half would leave a fault behind);
    then raise it (or drop it). Only the main thread receives signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[Any] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received and then_raise:
        raise KeyboardInterrupt
