"""A member a heal brings back gets no traffic from the LB before it is ready (Stack.hold_out).

The engine here is a fake that records what the LB was told and when; the real stack's case is
tests/integration/test_heal_hold_out.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_azchaos import Stack, load
from pytest_azchaos.errors import StackError
from pytest_azchaos.faults import AzOutage, InstanceFault
from pytest_azchaos.faults import restore as restore_module
from pytest_azchaos.faults.restore import ensure_healthy
from pytest_azchaos.stack.model import Member
from pytest_azchaos.stack.roles.lb import CONFIG, WORKERS, LbRole

DEFAULT = Path(__file__).resolve().parents[2] / "environments" / "default.yaml"
AZ_B = ("app-b-1", "s3-b-1")  # the LB's targets in AZ b: the app replica and the MinIO node


class FakeBackend:
    """Container states, and a log of what happened: ("lb", targets of AZ b it was given), ("start", ...)."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.off_region: set[str] = set()
        self.log: list[tuple[str, Any]] = []
        self.addresses: dict[str, str] = {}  # the LB's server address -> the target's alias
        self.workers = [""]  # what the LB's worker listing prints, call by call (the last repeats)
        self.reloads: list[tuple[int, str]] = []  # what the LB's reloads answer, call by call (then: 0)

    def state(self, name: str) -> str:
        return self.states.get(name, "running")

    def kill(self, names: Sequence[str]) -> None:
        self.states.update(dict.fromkeys(names, "exited"))

    pause = kill

    def stop(self, names: Sequence[str]) -> None:
        self.kill(names)
        self.log.append(("stop", sorted(names)))

    def restart(self, names: Sequence[str]) -> None:
        self.log.append(("restart", sorted(names)))

    def unpause(self, names: Sequence[str]) -> None:
        self.states.update(dict.fromkeys(names, "running"))

    def start(self, names: Sequence[str]) -> None:
        self.states.update(dict.fromkeys(names, "running"))
        self.log.append(("start", sorted(names)))

    def disconnect(self, names: Sequence[str], network: str) -> None:
        self.off_region.update(names)

    def connect(self, name: str, network: str, aliases: Sequence[str]) -> None:
        self.off_region.discard(name)
        self.log.append(("connect", name))

    def networks_of(self, name: str) -> set[str]:
        return {"az"} if name in self.off_region else {"az", "azchaos-t-region"}

    def put_files(self, name: str, files: dict[str, str]) -> None:
        conf = files[CONFIG]
        self.log.append(("lb", sorted({alias for address, alias in self.addresses.items()
                                       if alias in AZ_B and f"server {address} " in conf})))

    def exec(self, name: str, command: list[str]) -> tuple[int, str]:
        if command[-1] == WORKERS:  # the LB's worker processes: the next of self.workers each time
            output = self.workers.pop(0) if len(self.workers) > 1 else self.workers[0]
            self.log.append(("workers", output))
            return 0, output
        return self.reloads.pop(0) if self.reloads else (0, "")


class FakeStack(Stack):
    """Readiness is a set the test controls; each wait for it is logged as ("ready", ...)."""

    def __init__(self) -> None:
        super().__init__(load(DEFAULT), run_id="t", backend=FakeBackend())  # type: ignore[arg-type]
        self.fake: FakeBackend = self.backend  # type: ignore[assignment]
        self.unready: set[str] = set()  # aliases that never get ready
        self.fake.addresses = LbRole().upstreams(self, self.members(role="lb"))

    def not_ready(self, members: Sequence[Member]) -> list[str]:
        return [m.alias for m in members if m.alias in self.unready or not self.is_running(m)]

    def wait_ready(self, members: Sequence[Member], *, deadline: float) -> None:
        pending = self.not_ready(members)
        if pending:
            raise StackError(f"not ready: {', '.join(pending)}")
        self.fake.log.append(("ready", sorted(m.alias for m in members if m.az == "b")))

    def forget_ports(self, members: Sequence[Member]) -> None:
        pass


def lb_after(log: list[tuple[str, Any]], event: str) -> list[str]:
    """The LB's targets in AZ b as last set before ``event`` (the first entry of that kind)."""
    at = next(i for i, (kind, _) in enumerate(log) if kind == event)
    return next(value for kind, value in reversed(log[:at]) if kind == "lb")


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> FakeStack:
    monkeypatch.setattr(restore_module, "_links", lambda stack, started: [])  # no Toxiproxy to ask here
    return FakeStack()


def test_a_power_heal_adds_the_az_to_the_lb_only_once_it_is_ready(stack: FakeStack) -> None:
    outage = AzOutage("b", mode="power")
    outage.inject(stack)
    outage.heal(stack)
    log = stack.fake.log
    # Out before the start (the LB had kept the killed members' old addresses), in after ready.
    assert lb_after(log, "start") == []
    assert lb_after(log, "ready") == []
    assert log[-1] == ("lb", list(AZ_B))
    assert stack.held_out == []


def test_a_partition_heal_holds_the_az_out_while_it_reconnects(stack: FakeStack) -> None:
    outage = AzOutage("b", mode="network")
    outage.inject(stack)
    outage.heal(stack)
    assert lb_after(stack.fake.log, "connect") == []
    assert lb_after(stack.fake.log, "ready") == []
    assert stack.fake.log[-1] == ("lb", list(AZ_B))


def test_a_killed_instance_comes_back_to_the_lb_after_it_is_ready(stack: FakeStack) -> None:
    fault = InstanceFault("s3-b-1", "kill")
    fault.inject(stack)
    fault.heal(stack)
    assert lb_after(stack.fake.log, "start") == ["app-b-1"]
    assert stack.fake.log[-1] == ("lb", list(AZ_B))


def test_a_frozen_az_stays_in_the_lb(stack: FakeStack) -> None:
    """Unpaused members are the same processes at the same addresses: nothing to hold out."""
    outage = AzOutage("b", mode="freeze")
    outage.inject(stack)
    outage.heal(stack)
    assert [kind for kind, _ in stack.fake.log] == []


def test_members_that_never_got_ready_stay_out_until_the_stack_is_restored(stack: FakeStack) -> None:
    outage = AzOutage("b", mode="power")
    outage.inject(stack)
    stack.unready = {"s3-b-1"}
    with pytest.raises(StackError, match="s3-b-1"):
        outage.heal(stack)
    assert lb_after([*stack.fake.log, ("end", None)], "end") == []
    assert set(stack.held_out) == {m.alias for m in stack.members(az="b")}
    # Between tests: everything is ready now, but the LB still lacks AZ b: the restore adds it.
    stack.unready = set()
    ensure_healthy(stack, timeout_s=1)
    assert stack.fake.log[-1] == ("lb", list(AZ_B))
    assert stack.held_out == []


def test_restore_holds_out_what_it_starts_or_reconnects(stack: FakeStack) -> None:
    stack.fake.kill([stack.container_of("app-b-1")])
    stack.fake.disconnect([stack.container_of("s3-b-1")], "azchaos-t-region")
    done = restore_module.restore(stack, timeout_s=1)
    assert done == ["started app-b-1", "reconnected s3-b-1"]
    assert lb_after(stack.fake.log, "start") == []
    assert lb_after(stack.fake.log, "connect") == []
    assert stack.fake.log[-1] == ("lb", list(AZ_B))


# -- a graceful stop or restart of a MinIO node: drained first (Stack.drain) ---------------------


@pytest.mark.parametrize("action", ["restart", "stop"])
def test_a_minio_node_leaves_the_lb_before_a_graceful_stop_and_rejoins_once_ready(
        stack: FakeStack, action: str) -> None:
    fault = InstanceFault("s3-b-1", action)
    fault.inject(stack)
    assert lb_after(stack.fake.log, action) == ["app-b-1"]
    assert stack.held_out == ["s3-b-1"]
    fault.heal(stack)
    assert lb_after(stack.fake.log, "ready") == ["app-b-1"]
    assert stack.fake.log[-1] == ("lb", list(AZ_B))
    assert stack.held_out == []


def test_an_app_replica_is_restarted_in_place(stack: FakeStack) -> None:
    """The user's own instance: a reboot that its clients see is what a test rehearses."""
    InstanceFault("app-b-1", "restart").inject(stack)
    assert [kind for kind, _ in stack.fake.log] == ["restart"]
    assert stack.held_out == []


def test_the_stop_waits_for_the_lbs_old_workers_to_finish_their_requests(stack: FakeStack) -> None:
    # Before the reload: workers 7 and 8; after it, 7 still finishes a request, then only new ones.
    stack.fake.workers = ["/proc/7\n/proc/8", "/proc/7\n/proc/9", "/proc/7\n/proc/9", "/proc/9\n/proc/10"]
    InstanceFault("s3-b-1", "restart").inject(stack)
    kinds = [kind for kind, _ in stack.fake.log]
    assert kinds == ["workers", "lb", "workers", "workers", "workers", "restart"]


def test_the_drain_gives_up_on_a_request_that_does_not_finish(stack: FakeStack) -> None:
    stack.fake.workers = ["/proc/7"]  # never exits
    stack.drain(stack.members(service="s3", az="b"), timeout_s=0.3)  # returns: the stop goes ahead
    kinds = [kind for kind, _ in stack.fake.log]
    assert kinds[:2] == ["workers", "lb"] and kinds.count("workers") > 2  # it did wait, then gave up
    assert stack.held_out == ["s3-b-1"]


def test_heal_all_lets_back_a_node_drained_by_a_command_whose_record_was_lost(stack: FakeStack) -> None:
    InstanceFault("s3-b-1", "restart").inject(stack)  # `azchaos fault restart s3-b-1`, record lost
    again = FakeStack()  # `azchaos heal --all`: another process, which holds nothing out
    again.fake.log = stack.fake.log
    restore_module.restore(again, timeout_s=1)
    assert stack.fake.log[-1] == ("lb", list(AZ_B))


# -- reconfiguring the LB: one at a time, and once more when its reload fails ----------------------


def test_a_reload_that_fails_is_rendered_and_tried_once_more(stack: FakeStack) -> None:
    """A target that stopped between the render and the reload no longer resolves: nginx refuses the
    new configuration. The next render leaves the stopped target out."""
    refused = (1, 'nginx: [emerg] host not found in upstream "app-b-1:8080"')
    stack.fake.reloads = [refused]
    stack.reconfigure()
    assert [kind for kind, _ in stack.fake.log] == ["lb", "lb"]
    stack.fake.reloads = [refused, refused]
    with pytest.raises(StackError, match='reconfiguring lb .* failed: .*host not found in upstream "app-b-1:8080"'):
        stack.reconfigure()


def test_reconfigurations_from_two_threads_leave_the_lb_with_the_later_state(stack: FakeStack) -> None:
    """Auto scaling's new member and a heal's hold-out, at once: the change rendered first must not be
    applied last (the held-out AZ would be back in the LB while it starts)."""
    putting, go = threading.Event(), threading.Event()
    put = stack.fake.put_files

    def slow_put(name: str, files: dict[str, str]) -> None:
        if threading.current_thread().name == "scaling":
            putting.set()
            go.wait(5)
        put(name, files)

    stack.fake.put_files = slow_put  # type: ignore[method-assign]
    scaling = threading.Thread(target=stack.reconfigure, name="scaling")
    scaling.start()
    assert putting.wait(5)  # it rendered AZ b in, and is putting that
    heal = threading.Thread(target=stack.hold_out, args=(stack.members(az="b"),))
    heal.start()
    time.sleep(0.2)  # room for the heal's reconfiguration to run ahead, if it may
    go.set()
    scaling.join()
    heal.join()
    assert stack.fake.log[-1] == ("lb", [])
