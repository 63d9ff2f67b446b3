"""What a test holds: one stack, its faults, its traffic and its checks (the ``azchaos`` fixture)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .checks import Readback, SLOResult, evaluate
from .errors import StackError
from .faults import ActiveFault, AzOutage, Combined, Fault, InstanceFault, LinkCut, LinkToxic, Nemesis, Stress
from .faults.registry import FaultRegistry, default_registry
from .faults.restore import ensure_healthy
from .faults.schedule import RandomNemesis, candidates, parse_limits, plan
from .history import WRITE, History
from .stack import Stack
from .timeline import Event, Timeline
from .traffic import DEFAULT_WORKLOAD, Traffic, Workload
from .units import parse_duration
from .watch import HealthWatch

FaultObserver = Callable[[str, Fault, Event], None]
Steady = bool | float | str | None  # a steady-state bound ("30s"), None: the environment's, False: no check
ReadBack = Callable[[Stack, list[str]], "Readback | None"]


class Experiment:
    """One chaos experiment on a running stack.

    ``read_back`` reads acknowledged writes back for ``lost_writes`` (the plugin passes the
    ``pytest_azchaos_read_back`` hook; outside pytest, pass e.g. ``pytest_azchaos.readback.read_back``
    for the example app's stores). Without one, ``lost_writes`` says nothing was proven.

    Example::

        def test_survives_az_loss(azchaos):
            with azchaos.traffic(rate_per_s=50):
                azchaos.wait("2s")
                with azchaos.outage("a", mode="power"):
                    azchaos.wait("10s")
            azchaos.check(failed_requests=0)
    """

    def __init__(self, stack: Stack, *, observer: FaultObserver | None = None,
                 read_back: ReadBack | None = None, watch: bool = True,
                 registry: FaultRegistry | None = None, steady: bool = True) -> None:
        self.stack = stack
        self.timeline = Timeline()
        self.history = History()
        self.nemesis = Nemesis(stack, self.timeline, observer, steady=steady)
        self._traffic: list[Traffic] = []
        self._nemeses: list[RandomNemesis] = []
        self._read_back = read_back
        self._watch: HealthWatch | None = HealthWatch(stack, self.timeline).start() if watch else None
        self._readback: Readback | None = None
        self._checked = False  # the stack was found healthy after the faults
        self.registry = registry or default_registry(plugins=False)

    def inject(self, fault: Fault, *, duration: float | str | None = None, steady: Steady = None) -> ActiveFault:
        """Inject any fault; heal it with ``.heal()``, a ``with`` block, a ``duration`` ("10s"), or at test end.

        First the stack must be steady (pytest_azchaos.steady): ``steady`` bounds the wait ("30s"; None:
        the environment's ``steady.timeout``), ``steady=False`` injects without checking.
        """
        return self.nemesis.inject(fault, duration=duration, steady=steady)

    def outage(self, az: str, *, mode: str = "power", duration: float | str | None = None,
               steady: Steady = None) -> ActiveFault:
        """Lose AZ ``az``: "power" kills all its containers, "freeze" pauses them, "network" partitions it."""
        return self.inject(AzOutage(az, mode=mode), duration=duration, steady=steady)

    def toxic(self, link: str, kind: str, *, toxicity: float = 1.0, direction: str = "downstream",
              duration: float | str | None = None, steady: Steady = None, **attributes: int) -> ActiveFault:
        """Degrade ``link`` (e.g. "a/app->db") with a Toxiproxy toxic, e.g. ``toxic(link, "latency", latency=200)``."""
        fault = LinkToxic(link, kind, tuple(sorted(attributes.items())), toxicity, direction)
        return self.inject(fault, duration=duration, steady=steady)

    def cut(self, link: str, *, duration: float | str | None = None, steady: Steady = None) -> ActiveFault:
        """Cut ``link``: connections through it are refused until healed."""
        return self.inject(LinkCut(link), duration=duration, steady=steady)

    def instance(self, target: str, action: str = "kill", *, duration: float | str | None = None,
                 steady: Steady = None) -> ActiveFault:
        """Kill, stop, pause or restart a replica ("app-a-1"), a role ("etcd") or "db-primary"."""
        return self.inject(InstanceFault(target, action), duration=duration, steady=steady)

    def stress(self, where: str = "all", *, cpu: float | str = 0.0, io: int = 0,
               duration: float | str | None = None, steady: Steady = None) -> ActiveFault:
        """A noisy neighbour on ``where`` (an AZ, a replica, a role, "all"): take ``cpu`` ("90%") of the
        CPU from each of its containers and/or run ``io`` disk writers in each."""
        return self.inject(Stress(where, cpu, io), duration=duration, steady=steady)

    def fault(self, name: str, *, duration: float | str | None = None, steady: Steady = None,
              **fields: Any) -> ActiveFault:
        """Inject a fault by its registered type name, e.g. ``fault("outage", az="a", mode="freeze")``
        or one a plugin added with the ``pytest_azchaos_add_fault_types`` hook."""
        return self.inject(self.registry.build(name, fields), duration=duration, steady=steady)

    def combined(self, *faults: Fault, duration: float | str | None = None, steady: Steady = None) -> ActiveFault:
        """Inject several faults as one (in order; healed in reverse order)."""
        return self.inject(Combined(tuple(faults)), duration=duration, steady=steady)

    def random_nemesis(self, *, seed: int, duration: float | str = "60s", min_fault: float | str = "5s",
                       max_fault: float | str = "15s", min_pause: float | str = "2s", max_pause: float | str = "10s",
                       faults: Sequence[Fault] | None = None) -> RandomNemesis:
        """Start a reproducible random schedule of faults (one at a time) in the background; stop it
        by leaving the ``with`` block. The same seed on the same environment gives the same plan."""
        fault_s, pause_s = parse_limits((min_fault, max_fault), (min_pause, max_pause))
        steps = plan(list(faults) if faults is not None else candidates(self.stack), seed=seed,
                     duration_s=parse_duration(duration, what="duration"), fault_s=fault_s, pause_s=pause_s)
        nemesis = RandomNemesis(self.nemesis, steps, seed=seed)
        self._nemeses.append(nemesis)
        return nemesis.start()

    def traffic(self, *, rate_per_s: float = 50, workload: Workload = DEFAULT_WORKLOAD,
                ramp_from_per_s: float | None = None, ramp: float | str = 0, timeout_s: float = 10) -> Traffic:
        """Start open-loop traffic through the load balancer; stop it by leaving the ``with`` block.

        ``workload`` is a weighted mix of kinds, e.g. ``pytest_azchaos.workloads.example_app()``.
        """
        traffic = Traffic(self.stack.lb_url, rate_per_s=rate_per_s, workload=workload, history=self.history,
                          ramp_from_per_s=ramp_from_per_s, ramp=ramp, timeout_s=timeout_s,
                          upstreams=self.stack.upstreams(),
                          # Through the region's LB, a kept-alive connection closed without a word is one
                          # its reload (or keepalive timeout) closed idle: the request never reached the
                          # app, so a POST is resent too. An ALB closes no connection to register targets.
                          resend_unanswered=True)
        self._traffic.append(traffic)
        return traffic.start()

    def wait(self, duration: float | str) -> None:
        """Sleep for a duration such as "10s" or "500ms"."""
        time.sleep(parse_duration(duration, what="wait"))

    def evaluate(self, slos: Mapping[str, Any]) -> list[SLOResult]:
        """Return the verdict of each SLO (name -> limit) over what was recorded so far.

        ``lost_writes`` first reads every acknowledged write back from the stores.
        """
        readback = self.read_back() if slos.get("lost_writes") is not None else None
        return evaluate(slos, self.history, self.timeline, readback=readback)

    def read_back(self) -> Readback | None:
        """Read every acknowledged write back from the stores (once traffic has stopped); None if none."""
        if self._readback is None and self._read_back is not None:
            keys = [op.key for op in self.history.operations if op.action == WRITE and op.key is not None]
            self._readback = self._read_back(self.stack, keys)
        return self._readback

    def check(self, **slos: Any) -> list[SLOResult]:
        """Assert SLOs now, e.g. ``check(failed_requests=0)``; raise SLOViolation if one is broken."""
        results = self.evaluate(slos)
        for result in results:
            result.raise_if_failed()
        return results

    def finish(self) -> list[str]:
        """Stop all traffic and heal every fault; return the errors of healing, if any."""
        for nemesis in self._nemeses:
            nemesis.stop()
        self._nemeses.clear()
        for traffic in self._traffic:
            traffic.stop()
        self._traffic.clear()
        errors = self.nemesis.heal_all()
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        if not errors and self.timeline.first("inject") is not None and not self._checked:
            self._checked = True
            try:  # the next test starts from a healthy stack, or this one says why it cannot
                ensure_healthy(self.stack)
            except StackError as exc:
                errors.append(str(exc))
        return errors
