"""``azchaos gameday`` against ``azchaos up`` of the default region, watched through tmux as a person
would watch it: the live view, the report, no fault left behind, and Ctrl-C in the middle."""

from __future__ import annotations

import itertools
import json
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from pytest_azchaos.faults.state import FaultState

ROOT = Path(__file__).resolve().parents[2]
AZCHAOS = str(Path(sys.executable).with_name("azchaos"))
SCENARIO = ROOT / "examples" / "gamedays" / "az-power-loss.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_id() -> Iterator[str]:
    """A default region from 'azchaos up', removed at the end."""
    up = subprocess.run([AZCHAOS, "up", "--env", "default"], capture_output=True, text=True, timeout=900)
    assert up.returncode == 0, up.stderr[-3000:]
    found = json.loads(up.stdout)["run_id"]
    yield found
    subprocess.run([AZCHAOS, "down", "--run-id", found], capture_output=True, timeout=300)


class Pane:
    """A command in a detached tmux session of a fixed size; ``screens`` are what it showed."""

    def __init__(self, name: str, command: list[str]) -> None:
        self.name = name
        self.screens: list[tuple[float, str]] = []
        shell = f"cd {shlex.quote(str(ROOT))} && {shlex.join(command)}; echo EXIT=$?; sleep 900"
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "150", "-y", "60", shell], check=True)

    def capture(self) -> str:
        screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name, "-S", "-200"],
                                capture_output=True, text=True, check=True).stdout
        self.screens.append((time.monotonic(), screen))
        return screen

    def wait_for(self, pattern: str, timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = re.search(pattern, self.capture())
            if found:
                return found
            time.sleep(0.3)
        raise AssertionError(f"{pattern!r} not shown within {timeout_s:g} s; last screen:\n{self.screens[-1][1]}")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def pane(request: pytest.FixtureRequest) -> Iterator[list[Pane]]:
    panes: list[Pane] = []
    yield panes
    for opened in panes:
        opened.close()


def no_fault_left(run_id: str) -> None:
    """Nothing on record, and every container of the stack running (none killed, paused or cut off)."""
    assert FaultState(run_id).records() == []
    status = json.loads(subprocess.run([AZCHAOS, "status", "--run-id", run_id, "--json"], capture_output=True,
                                       text=True, timeout=120, check=True).stdout)
    assert status["faults"] == []
    client = docker.from_env()
    states = {c.name: c.status for c in client.containers.list(all=True, filters={"label": f"azchaos.run={run_id}"})}
    assert states and all(state == "running" for state in states.values()), states


def elapsed_values(screens: list[tuple[float, str]]) -> list[tuple[float, str]]:
    found = []
    for at, screen in screens:
        match = re.findall(r"elapsed\s+(\d+:\d\d)", screen)
        if match:
            found.append((at, match[-1]))
    return found


def test_az_power_loss_runs_to_the_end_with_a_live_view(run_id: str, pane: list[Pane], tmp_path: Path) -> None:
    report = tmp_path / "report"
    view = Pane(f"gd-{run_id}", [AZCHAOS, "gameday", str(SCENARIO), "--run-id", run_id, "--report", str(report)])
    pane.append(view)
    view.wait_for(r"faults\s+outage\(a, power\)", timeout_s=180)  # after the steady-state check
    screen = view.screens[-1][1]
    for fact in ("azchaos gameday: az-power-loss", "elapsed", r"step\s+4/6 outage\(a, power\) for 30 s",
                 r"rate\s+\d+\.\d/s \(target 30/s\)", r"errors\s+\d+", r"p99\s+", r"DB leader\s+db-", "sync standby"):
        assert re.search(fact, screen), (fact, screen)
    exit_code = view.wait_for(r"EXIT=(\d+)", timeout_s=600).group(1)
    final = view.screens[-1][1]
    assert "game day PASSED" in final and exit_code == "0", final
    ticks = elapsed_values(view.screens)  # the view is redrawn at least once a second
    changes = [at for (_, before), (at, value) in itertools.pairwise(ticks) if value != before]
    gaps = [b - a for a, b in itertools.pairwise(changes)]
    assert len(changes) > 20 and max(gaps) < 2.5, gaps
    data = json.loads((report / "report.json").read_text())
    assert data["kind"] == "gameday" and data["tests"][0]["verdict"] == "passed", data["tests"][0]
    assert (report / "report.html").is_file()
    no_fault_left(run_id)


def test_ctrl_c_in_the_middle_heals_everything(run_id: str, pane: list[Pane], tmp_path: Path) -> None:
    report = tmp_path / "report"
    view = Pane(f"gdc-{run_id}", [AZCHAOS, "gameday", str(SCENARIO), "--run-id", run_id, "--report", str(report)])
    pane.append(view)
    view.wait_for(r"faults\s+outage\(a, power\)", timeout_s=300)
    deadline = time.monotonic() + 30  # on record once it took effect: 'azchaos status' lists it meanwhile
    while not FaultState(run_id).records() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [r["subject"] for r in FaultState(run_id).records()] == ["outage(a, power)"]
    time.sleep(2)
    subprocess.run(["tmux", "send-keys", "-t", view.name, "C-c"], check=True)
    exit_code = view.wait_for(r"EXIT=(\d+)", timeout_s=400).group(1)
    final = view.screens[-1][1]
    assert exit_code == "130", final
    assert "aborted: interrupted (Ctrl-C) in step 4" in final and "every fault was healed" in final, final
    assert (report / "report.json").is_file()
    no_fault_left(run_id)
