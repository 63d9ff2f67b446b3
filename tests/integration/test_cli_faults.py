"""`azchaos fault ...` and `azchaos heal` by hand on a running default region, across processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
AZCHAOS = [sys.executable, "-m", "pytest_azchaos.cli"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A default region started with `azchaos up`, and the environment of the commands."""
    env = {**os.environ, "AZCHAOS_STATE_DIR": str(tmp_path_factory.mktemp("state"))}
    up = subprocess.run([*AZCHAOS, "up", "--env", "default"], capture_output=True, text=True, env=env,
                        timeout=600, check=False)
    assert up.returncode == 0, up.stderr
    run_id = json.loads(up.stdout)["run_id"]
    yield {**env, "RUN_ID": run_id}
    subprocess.run([*AZCHAOS, "down", "--run-id", run_id], capture_output=True, env=env, timeout=120, check=False)


def azchaos(run: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AZCHAOS, *args, "--run-id", run["RUN_ID"]], capture_output=True, text=True,
                          env=run, timeout=300, check=False)


def status(run: dict[str, str]) -> dict[str, object]:
    found = azchaos(run, "status", "--json")
    assert found.returncode == 0, found.stderr
    return dict(json.loads(found.stdout))


def states(run: dict[str, str], az: str | None = None) -> dict[str, str]:
    return {m["container"].split("-", 2)[2]: m["state"] for m in status(run)["members"]  # type: ignore[union-attr]
            if az is None or m["az"] == az}


def test_outage_is_listed_by_status_and_healed_by_id(run: dict[str, str]) -> None:
    injected = azchaos(run, "fault", "outage", "a", "--mode", "freeze")
    assert injected.returncode == 0, injected.stderr
    fault_id = injected.stdout.split()[0]
    assert injected.stdout.strip() == f"{fault_id} outage(a, freeze)"
    assert set(states(run, "a").values()) == {"paused"}
    listed = status(run)["faults"]
    assert [(f["id"], f["subject"]) for f in listed] == [(fault_id, "outage(a, freeze)")]  # type: ignore[index]
    human = azchaos(run, "status")
    assert f"fault {fault_id}: outage(a, freeze) since" in human.stdout
    healed = azchaos(run, "heal", fault_id)
    assert healed.returncode == 0, healed.stderr
    assert set(states(run, "a").values()) == {"running"} and status(run)["faults"] == []


def test_a_fault_with_a_duration_heals_itself(run: dict[str, str]) -> None:
    t0 = time.monotonic()
    paused = azchaos(run, "fault", "pause", "app-b-1", "--for", "2s")
    assert paused.returncode == 0, paused.stderr
    assert 2 <= time.monotonic() - t0 < 60
    assert "heals in" in paused.stderr and states(run)["app-b-1"] == "running" and status(run)["faults"] == []


def test_heal_all_restores_what_a_killed_command_left(run: dict[str, str]) -> None:
    command = subprocess.Popen([*AZCHAOS, "fault", "kill", "app-c-1", "--for", "60s", "--run-id", run["RUN_ID"]],
                               env=run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while states(run)["app-c-1"] == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1)
    command.send_signal(signal.SIGKILL)  # no chance to heal: the record stays
    command.wait()
    assert states(run)["app-c-1"] == "exited"
    assert [f["subject"] for f in status(run)["faults"]] == ["kill(app-c-1)"]  # type: ignore[union-attr]
    toxic = azchaos(run, "fault", "toxic", "a/app->db", "latency", "latency=300")  # and one more, by hand
    assert toxic.returncode == 0, toxic.stderr
    healed = azchaos(run, "heal", "--all")
    assert healed.returncode == 0, healed.stderr
    assert set(states(run).values()) == {"running"} and status(run)["faults"] == []
    unhealthy = [m["container"] for m in status(run)["members"] if not m["healthy"]]  # type: ignore[union-attr]
    assert unhealthy == []


def test_sigterm_during_a_duration_heals(run: dict[str, str]) -> None:
    command = subprocess.Popen([*AZCHAOS, "fault", "cut", "b/app->s3", "--for", "60s", "--run-id", run["RUN_ID"]],
                               env=run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not status(run)["faults"] and time.monotonic() < deadline:
        time.sleep(0.5)
    command.send_signal(signal.SIGTERM)
    assert command.wait(timeout=60) == 130
    assert status(run)["faults"] == []
    proxies = _toxiproxy(run, "b")
    assert proxies["b.app_to_s3"]["enabled"] is True


def _toxiproxy(run: dict[str, str], az: str) -> dict[str, dict[str, object]]:
    data = status(run)
    member = next(m for m in data["members"] if m["role"] == "toxiproxy" and m["az"] == az)  # type: ignore[union-attr]
    port = subprocess.run(["docker", "port", member["container"], "8474/tcp"], capture_output=True, text=True,
                          check=True).stdout.split(":")[-1].strip()
    return dict(requests.get(f"http://127.0.0.1:{port}/proxies", timeout=5).json())


@pytest.mark.parametrize(("args", "message"), [
    (["fault", "outage", "z"], "unknown AZ 'z'"),
    (["fault", "kill", "app-z-9"], "unknown target 'app-z-9'"),
    (["fault", "toxic", "z/app->db", "latency", "latency=1"], "unknown link 'z/app->db'"),
    (["fault", "outage", "a", "--for", "-5s"], "--for: expected a duration"),
    (["fault", "toxic", "a/app->db", "nope"], "invalid choice: 'nope'"),
    (["heal", "f99"], "no recorded fault 'f99'"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(run: dict[str, str], args: list[str], message: str) -> None:
    before = states(run)
    result = azchaos(run, *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert states(run) == before and status(run)["faults"] == []
