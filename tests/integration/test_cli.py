"""The azchaos command against a real engine, and its errors on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from pytest_azchaos import Stack, load
from pytest_azchaos.backend import DockerBackend

ROOT = Path(__file__).resolve().parents[2]
AZCHAOS = [sys.executable, "-m", "pytest_azchaos.cli"]


def azchaos(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AZCHAOS, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})}, check=False)


@pytest.mark.usefixtures("leaves_nothing_behind")
def test_up_status_down() -> None:
    up = azchaos("up", "--env", str(ROOT / "environments" / "minimal.yaml"))
    assert up.returncode == 0, up.stderr
    started = json.loads(up.stdout)
    run_id = started["run_id"]
    try:
        assert requests.get(started["endpoints"]["lb"] + "/healthz", timeout=2).status_code == 200
        status = azchaos("status", "--run-id", run_id, "--json")
        assert status.returncode == 0, status.stderr
        data = json.loads(status.stdout)
        assert data["azs"] == ["a", "b"]
        assert all(m["state"] == "running" and m["healthy"] for m in data["members"])
        human = azchaos("status", "--run-id", run_id)
        assert "endpoint lb: http://127.0.0.1:" in human.stdout
    finally:
        down = azchaos("down", "--run-id", run_id)
    assert down.returncode == 0, down.stderr
    assert f"removed stack {run_id}" in down.stderr


@pytest.mark.usefixtures("leaves_nothing_behind")
def test_a_kept_stack_stopped_by_a_restart_is_brought_back_by_heal_all() -> None:
    """A machine restart stops every container of a stack kept with 'azchaos up' (no restart
    policy). The list says so and what brings it back; 'azchaos heal --all' does, on new ports:
    the default region, whose etcd, Patroni and MinIO start again from their data."""
    up = azchaos("up")
    assert up.returncode == 0, up.stderr
    run_id = json.loads(up.stdout)["run_id"]
    try:
        backend = DockerBackend()
        backend.stop([c["Names"][0].lstrip("/") for c in
                      backend.client.api.containers(filters={"label": f"azchaos.run={run_id}"})])  # the restart
        listed = azchaos("list").stdout
        assert f"'azchaos heal --all --run-id {run_id}' starts the rest" in listed, listed
        assert " 0 of 17 up " in listed, listed
        heal = azchaos("heal", "--all", "--run-id", run_id)
        assert heal.returncode == 0, heal.stderr
        status = json.loads(azchaos("status", "--run-id", run_id, "--json").stdout)
        assert all(m["state"] == "running" and m["healthy"] for m in status["members"]), status["members"]
        assert requests.get(status["endpoints"]["lb"] + "/healthz", timeout=2).status_code == 200
        assert [n["role"] for n in status["roles"]["db"]["nodes"]].count("sync_standby") == 1, status["roles"]["db"]
        assert status["roles"]["s3"]["drives_online"] == status["roles"]["s3"]["drives_total"], status["roles"]["s3"]
        assert "starts the rest" not in azchaos("list").stdout
    finally:
        azchaos("down", "--run-id", run_id)


@pytest.mark.usefixtures("leaves_nothing_behind")
def test_list_says_whose_each_stack_is(tiny_env: Path, gone_owner: str) -> None:
    """Three stacks on one engine: one kept by 'azchaos up', one of a live process (this test's),
    one left by a process that died. The list tells them apart, as the sweep does."""
    up = azchaos("up", "--env", str(tiny_env))
    assert up.returncode == 0, up.stderr
    kept = json.loads(up.stdout)["run_id"]
    mine = Stack(load(str(tiny_env)), progress=lambda line: None)
    left = Stack(load(str(tiny_env)), backend=DockerBackend(owner=gone_owner), progress=lambda line: None)
    try:
        mine.up()
        left.up()
        listed = azchaos("list", "--json")
        assert listed.returncode == 0, listed.stderr
        rows = {row["run_id"]: row for row in json.loads(listed.stdout)}
        assert rows[kept]["owner"].startswith("kept ('azchaos up' or --azchaos-keep)"), rows[kept]
        assert rows[mine.run_id]["owner"].startswith(f"process {os.getpid()} (python"), rows[mine.run_id]
        assert rows[left.run_id]["owner"] == "left by a process that died: the next start removes it"
        assert {(row["containers"], row["running"], row["networks"]) for row in rows.values()
                if row["run_id"] in (kept, mine.run_id, left.run_id)} == {(2, 2, 2)}
        human = azchaos("ls").stdout.splitlines()
        assert human[0].split() == ["RUN", "ENVIRONMENT", "CONTAINERS", "NETWORKS", "OWNER"]
        assert any(line.startswith(f"{mine.run_id} ") and " tiny " in line and " 2 of 2 up " in line
                   for line in human), human
    finally:
        mine.down()
        left.down()
        azchaos("down", "--run-id", kept)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["up", "--env", "does-not-exist.yaml"], "does-not-exist.yaml: environment file not found"),
        (["status", "--run-id", "nosuchrun"], "no stack with run id 'nosuchrun' is running (running: "),
        (["down", "--run-id", "nosuchrun"], "no stack with run id 'nosuchrun' is running (running: "),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], message: str) -> None:
    result = azchaos(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"azchaos: error: {message}"), lines


def test_unparsable_environment_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("azs: [a, b]\nservices:\n  app: {role: app\n")
    result = azchaos("up", "--env", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"azchaos: error: {bad}:4: not valid YAML")


def test_no_engine_is_one_clear_line(tmp_path: Path) -> None:
    result = azchaos("up", env={"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("azchaos: error: no Docker engine answers")


def test_missing_image_names_the_file_and_line(tmp_path: Path) -> None:
    env = tmp_path / "env.yaml"
    images = ROOT / "environments" / "images"
    env.write_text(f"images: {images}\nazs: [a]\nservices:\n  app:\n    role: app\n    image: no-such-image:1\n"
                   "  lb:\n    role: lb\n    image: nginx\n")
    result = azchaos("up", "--env", str(env))
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"azchaos: error: {env}:6: image 'no-such-image:1' is neither present locally nor pullable")
    assert "use a recipe: debian, debian-trixie, etcd, example-app" in last


@pytest.mark.usefixtures("leaves_nothing_behind")
def test_a_stock_image_as_the_app() -> None:
    up = azchaos("up", "--env", str(ROOT / "environments" / "custom-app.yaml"))
    assert up.returncode == 0, up.stderr
    started = json.loads(up.stdout)
    try:
        page = requests.get(started["endpoints"]["lb"] + "/", timeout=2)
        assert page.status_code == 200 and "Welcome to nginx" in page.text
    finally:
        azchaos("down", "--run-id", started["run_id"])
