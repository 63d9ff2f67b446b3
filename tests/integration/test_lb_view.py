"""The LB's own view on the timeline, for real: nginx marks the replicas of a frozen AZ failed, and
says so when one of its own workers dies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_azchaos import Experiment, Stack, load
from pytest_azchaos.stack.roles.lb import WORKERS
from pytest_azchaos.timeline import HEAL, INJECT, LB, LB_ALERT

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The minimal region (an LB and four replicas in two AZs): it starts in seconds."""
    running = Stack(load(ROOT / "environments" / "minimal.yaml"), progress=lambda m: print(f"azchaos: {m}")).up()
    yield running
    running.down()


def test_the_lb_marking_a_frozen_azs_replicas_failed_is_on_the_timeline(stack: Stack) -> None:
    azchaos = Experiment(stack)
    with azchaos.traffic(rate_per_s=20):
        azchaos.wait("1s")
        with azchaos.outage("a", mode="freeze"):
            azchaos.wait("7s")
        azchaos.wait("2s")
    assert azchaos.finish() == []
    events = azchaos.timeline.events
    print("\n".join(f"{e.mono:10.3f} {e.kind} {e.subject} {e.detail}" for e in events))
    inject, heal = (next(e for e in events if e.kind == kind) for kind in (INJECT, HEAL))
    seen = [e for e in events if e.kind == LB]
    # nginx's address of each frozen replica, named by the stack; the others never failed.
    assert {e.subject for e in seen} == {m.alias for m in stack.members(az="a", role="app")}
    assert all(e.detail.startswith("marked failed: timed out (reading response header), ") for e in seen)
    # Its own time: after the 5 s read timeout, before the heal answered the requests held.
    assert all(inject.mono + 4.5 < e.mono < heal.mono + 0.5 for e in seen), [e.mono - inject.mono for e in seen]


def test_an_lb_worker_that_dies_is_on_the_timeline_as_the_lbs_own_trouble(stack: Stack) -> None:
    """nginx's alert is not about a target: it goes to docker logs, and to the view's file too."""
    azchaos = Experiment(stack)
    lb = stack.members(role="lb")[0]
    with azchaos.traffic(rate_per_s=20):
        azchaos.wait("1s")
        code, workers = stack.backend.exec(lb.container, ["sh", "-c", WORKERS])
        assert code == 0 and workers.split(), workers
        worker = workers.split()[0].rpartition("/")[2]
        assert stack.backend.exec(lb.container, ["sh", "-c", f"kill -9 {worker}"])[0] == 0
        killed = time.monotonic()
        azchaos.wait("3s")
    azchaos.finish()
    events = azchaos.timeline.events
    print("\n".join(f"{e.mono:10.3f} {e.kind} {e.subject} {e.detail}" for e in events))
    alerts = [e for e in events if e.kind == LB_ALERT]
    assert [(e.subject, e.detail) for e in alerts] == [(lb.alias, "worker process exited on signal 9, 1 alert")]
    assert killed - 1.5 < alerts[0].mono < killed + 1.5  # its line's second, as the look saw it
