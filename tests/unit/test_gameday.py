"""The game-day runner on a stand-in stack (a local HTTP server plays the load balancer): steps in
order, verdicts per expect step, the fault state kept, and Ctrl-C healing everything."""

from __future__ import annotations

import os
import signal
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from pytest_azchaos import load
from pytest_azchaos.faults.state import FaultState
from pytest_azchaos.gameday import GameDay, LiveHistory, deferred_interrupt, window
from pytest_azchaos.gameday_report import verdict, write
from pytest_azchaos.gameday_scenario import load_scenario
from pytest_azchaos.gameday_view import clock, plain, render, verdicts
from pytest_azchaos.history import FAILED, OK, Operation
from pytest_azchaos.resources import environment_file
from pytest_azchaos.stack import Stack
from pytest_azchaos.timeline import INJECT, SYNC, Timeline
from tests.local_server import LocalServer


class FakeBackend:
    def __init__(self) -> None:
        self.down: set[str] = set()

    def kill(self, names: list[str]) -> None:
        self.down.update(names)

    pause = kill

    def start(self, names: list[str]) -> None:
        self.down.difference_update(names)

    unpause = start

    def state(self, name: str) -> str:
        return "exited" if name in self.down else "running"

    def exec(self, name: str, command: list[str]) -> tuple[int, str]:
        return 1, ""  # nothing resolves here: the LB's targets stay addresses

    def __getattr__(self, name: str) -> Any:  # the rest (files, networks...) has nothing to do here
        return lambda *args, **kwargs: None


class FakeStack(Stack):
    """The minimal region; the LB answers 503 once every app replica is down."""

    def __init__(self) -> None:
        super().__init__(load(environment_file("minimal")), run_id="fakegd", backend=FakeBackend())  # type: ignore[arg-type]
        stack = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                apps = [m.container for m in stack.members(role="app")]
                broken = all(a in stack.backend.down for a in apps)  # type: ignore[attr-defined]
                self.send_response(503 if broken else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = LocalServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def lb_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, member: Any, port: int, path: str = "") -> str:
        return self.lb_url + path

    def wait_ready(self, members: Any, *, deadline: float) -> None:
        pass

    def not_ready(self, members: Any) -> list[str]:
        return []

    def hold_out(self, members: Any) -> None:
        pass

    def recover(self, members: Any, **kwargs: Any) -> None:
        pass

    def forget_ports(self, members: Any) -> None:
        pass

    def reload_lb(self) -> None:
        pass


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStack]:
    monkeypatch.setenv("AZCHAOS_STATE_DIR", str(tmp_path / "state"))
    fake = FakeStack()
    yield fake
    fake.server.shutdown()


def scenario(tmp_path: Path, steps: str) -> Any:
    path = tmp_path / "day.yaml"
    path.write_text("name: day\nenvironment: minimal\nsteps:\n" + textwrap.indent(textwrap.dedent(steps), "  "))
    return load_scenario(path)


def test_steps_run_in_order_and_each_expect_counts_from_its_mark(tmp_path: Path, stack: FakeStack) -> None:
    day = GameDay(scenario(tmp_path, """\
        - traffic: {rate: 100/s, for: 1.5s}
        - wait: 300ms
        - outage: {az: a, mode: power, for: 300ms, steady: false}
        - mark: a-healed
        - instance: {action: kill, target: app-b-1, id: b1, steady: false}
        - wait: 300ms
        - heal: b1
        - expect: {failed_requests: 0}
        - expect: {failed_requests: 0, p99: 1s, since: a-healed}
        """), stack)
    result = day.run()
    assert result.completed and result.steps_done == 9 and not result.heal_errors
    kinds = [(e.kind, e.subject) for e in result.timeline.events if e.kind in ("inject", "heal")]
    assert kinds == [("inject", "outage(a, power)"), ("heal", "outage(a, power)"),
                     ("inject", "kill(app-b-1)"), ("heal", "kill(app-b-1)")]
    assert not stack.backend.down  # type: ignore[attr-defined]
    whole, since_mark, p99 = [slo for _, slo in result.verdicts]
    assert whole.passed and since_mark.passed and p99.passed  # every request found a running replica
    assert 0 < since_mark.value <= whole.value or whole.value == since_mark.value == 0
    assert len(result.history) >= 100  # traffic ran its 1.5 s, past the last step
    assert verdict(result) == "passed" and result.passed


def test_a_broken_expectation_fails_the_game_day(tmp_path: Path, stack: FakeStack) -> None:
    day = GameDay(scenario(tmp_path, """\
        - traffic: {rate: 100/s}
        - wait: 200ms
        - outage: {az: a, mode: power, steady: false, id: a}
        - outage: {az: b, mode: power, steady: false}
        - wait: 300ms
        - heal: all
        - wait: 200ms
        - expect: {failed_requests: 0}
        """), stack)
    result = day.run()
    [(step, slo)] = result.verdicts
    assert result.completed and not slo.passed and step.line == 11
    assert "did not succeed" in slo.message
    assert verdict(result) == "slo_broken" and not result.passed


def test_ctrl_c_in_the_middle_heals_everything_and_keeps_the_partial_result(tmp_path: Path,
                                                                            stack: FakeStack) -> None:
    day = GameDay(scenario(tmp_path, """\
        - traffic: {rate: 50/s, for: 30s}
        - outage: {az: a, mode: freeze, steady: false}
        - expect: {failed_requests: 0}
        - wait: 30s
        - expect: {p99: 1s}
        """), stack)
    seen: list[list[dict[str, Any]]] = []

    def interrupt() -> None:
        seen.append(FaultState(stack.run_id).records())  # what 'azchaos status' lists meanwhile
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.8, interrupt)
    timer.start()
    started = time.monotonic()
    result = day.run()
    timer.join()
    assert time.monotonic() - started < 10
    assert result.aborted == "interrupted (Ctrl-C) in step 4" and not result.completed
    assert result.steps_done == 3 and verdict(result) == "failed"
    assert [r["subject"] for r in seen[0]] == ["outage(a, power)".replace("power", "freeze")]
    assert not stack.backend.down and not day.experiment.nemesis.active  # type: ignore[attr-defined]
    assert FaultState(stack.run_id).records() == []
    assert [e.kind for e in result.timeline.events if e.kind in ("inject", "heal")] == ["inject", "heal"]
    [(_, slo)] = result.verdicts  # the expect step reached before Ctrl-C, over its window
    assert slo.passed
    page = write(result, tmp_path / "report")
    assert page.is_file() and (tmp_path / "report" / "report.json").is_file()


def test_the_live_view_shows_every_fact(tmp_path: Path, stack: FakeStack) -> None:
    day = GameDay(scenario(tmp_path, "- traffic: {rate: 100/s, for: 3s}\n- outage: {az: b, mode: freeze, "
                                     "steady: false, for: 2s}\n"), stack)
    looks: list[str] = []

    def look() -> None:
        # Look once the outage is on and a second has passed, however late the day started: a fixed
        # sleep of 1 s saw "0:00" on a loaded host (the day began after the sleep did).
        deadline = time.monotonic() + 30
        status = day.status()
        while not (status.faults and status.elapsed_s >= 1) and time.monotonic() < deadline:
            time.sleep(0.01)
            status = day.status()
        console = Console(width=120, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        console.print(render(status, title="t"))
        looks.append(console.export_text())
        looks.append(plain(status))
        looks.append(clock(status.elapsed_s))

    watcher = threading.Thread(target=look)
    watcher.start()
    result = day.run()
    watcher.join()
    text, line, elapsed = looks
    assert elapsed.startswith("0:0") and elapsed != "0:00", "looked a second in, while the outage was on"
    for fact in ("elapsed", elapsed, "step", "2/2 outage(b, freeze) for 2 s", "faults", "rate", "target 100/s",
                 "errors", "p99", "DB leader", "sync standby"):
        assert fact in text, (fact, text)
    assert "faults: outage(b, freeze)" in line and "step 2/2" in line
    console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(verdicts(result))
    assert "game day PASSED" in console.export_text() or "no expect step" in console.export_text()


def test_live_history_keeps_only_the_last_seconds() -> None:
    history = LiveHistory()
    now = time.monotonic()
    for i in range(30):
        t = now - 29 + i
        history.append(Operation("read", t, t, t, FAILED if i % 2 else OK))
    assert len(history) == 30 and history.not_ok == 15
    assert len(history.recent) == 11  # the last RECENT_S (10 s)
    assert len(history.last(2.5)) == 3


def test_window_keeps_the_sync_state_writes_started_in() -> None:
    timeline = Timeline()
    sync = timeline.record(SYNC, "db", "sync standby db-b-1")
    fault = timeline.record(INJECT, "outage(a, power)")
    copy = window(timeline, fault.mono, fault.mono + 1)
    assert [(e.kind, e.mono) for e in copy.events] == [(SYNC, sync.mono), (INJECT, fault.mono)]


def test_ctrl_c_waits_for_a_heal_then_stops() -> None:
    done = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupt():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
        done.append("healed")
    assert done == ["healed"]


def test_clock() -> None:
    assert (clock(5), clock(125), clock(3723)) == ("0:05", "2:05", "1:02:03")
