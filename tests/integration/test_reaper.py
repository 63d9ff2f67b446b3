"""A run killed with SIGKILL leaves nothing behind: its reaper removes the stack, or, when the reaper
was killed with it, the next start does; a second Ctrl-C while removing leaves nothing either."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from pytest_azchaos import Stack, load
from pytest_azchaos.backend import LABEL_RUN, DockerBackend
from pytest_azchaos.stack import reaper
from pytest_azchaos.stack.owner import owner_token

ROOT = Path(__file__).resolve().parents[2]
AZCHAOS = str(Path(sys.executable).with_name("azchaos"))


def test_sigkilled_pytest_leaves_nothing_behind(pytester: pytest.Pytester, docker_client: docker.DockerClient) -> None:
    before = {c["Id"] for c in docker_client.api.containers(all=True, filters={"label": LABEL_RUN})}
    pytester.makepyfile("import time\ndef test_hang(azchaos_stack):\n    print('UP', flush=True)\n"
                        "    time.sleep(600)\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider",
         f"--azchaos-env={ROOT / 'environments' / 'minimal.yaml'}"],
        cwd=pytester.path, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("UP"):
            break
    else:
        pytest.fail(f"the stack did not come up (exit {proc.wait()})")
    mine = {c["Id"] for c in docker_client.api.containers(all=True, filters={"label": LABEL_RUN})} - before
    assert mine, "the run started no containers"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        left = {c["Id"] for c in docker_client.api.containers(all=True, filters={"label": LABEL_RUN})} & mine
        if not left:
            return
        time.sleep(1)
    pytest.fail(f"{len(left)} container(s) of the killed run are still there after 60 s")




def _objects_of(client: docker.DockerClient, run_id: str) -> set[str]:
    selector = {"label": f"{LABEL_RUN}={run_id}"}
    found = {c["Names"][0] for c in client.api.containers(all=True, filters=selector)}
    return found | {n.name for n in client.networks.list(filters=selector)}


def _left_after(client: docker.DockerClient, run_id: str, seconds: float) -> set[str]:
    """What of ``run_id`` is still there once it is all gone, or after ``seconds``."""
    deadline = time.monotonic() + seconds
    while (left := _objects_of(client, run_id)) and time.monotonic() < deadline:
        time.sleep(1)
    return left


def _start_session(pytester: pytest.Pytester, env_file: Path) -> tuple[subprocess.Popen[str], str]:
    """Start a pytest session (its own process group) holding a tiny stack; return it and the run id."""
    pytester.makepyfile("import time\ndef test_hang(azchaos_stack):\n"
                        "    print('UP', azchaos_stack.run_id, flush=True)\n    time.sleep(600)\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", f"--azchaos-env={env_file}"],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("UP "):
            return proc, line.split()[1]
    pytest.fail(f"the stack did not come up (exit {proc.wait()})")


def _reaper_of(run_id: str) -> int:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"pytest_azchaos.stack.reaper" in args and run_id.encode() in args:
            return int(cmdline.parent.name)
    pytest.fail(f"no reaper runs for {run_id}")


def test_a_run_killed_with_its_reaper_is_removed_by_the_next_start(
        pytester: pytest.Pytester, tiny_env: Path, docker_client: docker.DockerClient) -> None:
    proc, run_id = _start_session(pytester, tiny_env)
    reaper_pid = _reaper_of(run_id)
    os.killpg(proc.pid, signal.SIGKILL)  # a CI job cancel or a cgroup OOM kill: pytest and its reaper at once
    os.kill(reaper_pid, signal.SIGKILL)
    proc.wait()
    time.sleep(2)
    assert _objects_of(docker_client, run_id), "the run was removed although its reaper was killed"
    # The next start (here: the sweep it runs first) removes it, and nothing of a live run.
    assert run_id in reaper.sweep(DockerBackend(), print)
    assert _objects_of(docker_client, run_id) == set()


@pytest.mark.usefixtures("leaves_nothing_behind")
def test_a_run_from_before_the_machine_restarted_is_removed_once_none_of_it_runs(
        tiny_env: Path, docker_client: docker.DockerClient) -> None:
    """What a restart of the machine leaves: a stack whose owner ran in the earlier boot, its
    containers stopped by the restart. Its owner's PID means nothing in this boot; the boot does."""
    before_restart = owner_token().replace(";boot=", ";boot=0")  # this machine, another boot
    stack = Stack(load(str(tiny_env)), backend=DockerBackend(owner=before_restart), progress=lambda line: None)
    try:
        stack.up()
        down = [AZCHAOS, "down", "--orphans"]
        # While any of its containers runs, it may be a cloned machine's live run on a shared engine.
        kept = subprocess.run(down, capture_output=True, text=True, timeout=120)
        assert kept.returncode == 0 and _objects_of(docker_client, stack.run_id), kept.stdout + kept.stderr
        stack.backend.stop([m.container for m in stack.members_all])  # what the restart did
        swept = subprocess.run(down, capture_output=True, text=True, timeout=120)
        assert f"removed stack {stack.run_id} left from before this machine restarted" in swept.stderr, swept.stdout
        assert _objects_of(docker_client, stack.run_id) == set()
    finally:
        stack.down()


def test_a_second_ctrl_c_while_removing_leaves_nothing(
        pytester: pytest.Pytester, tiny_env: Path, docker_client: docker.DockerClient) -> None:
    proc, run_id = _start_session(pytester, tiny_env)
    assert proc.stdout is not None
    # Ctrl-C, then Ctrl-C again and again while the session heals and removes the stack.
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.1)
    output = proc.stdout.read()
    assert proc.poll() is not None, "pytest did not end on Ctrl-C"
    assert "please wait" in output, output  # an interrupt did arrive while removing, and was held
    # had the owner died mid-removal, its reaper finishes within 30 s
    assert _left_after(docker_client, run_id, 30) == set(), output


def test_a_script_killed_with_sigterm_leaves_nothing_behind(docker_client: docker.DockerClient) -> None:
    """Stack.owned(), as the benchmarks use it: SIGTERM skips their ``finally``, the reaper does not."""
    script = ("import sys, time\nfrom pytest_azchaos import Stack, load\n"
              f"with Stack(load({str(ROOT / 'environments' / 'minimal.yaml')!r})).owned() as stack:\n"
              "    print('UP', stack.run_id, flush=True)\n    time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    run_id = next((line.split()[1] for line in proc.stdout if line.startswith("UP")), None)
    assert run_id, f"the stack did not come up (exit {proc.wait()})"
    assert _objects_of(docker_client, run_id), "the run started nothing"
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait()
    left = _left_after(docker_client, run_id, 60)
    assert not left, f"{len(left)} object(s) of the killed script are still there after 60 s: {sorted(left)}"


GAMEDAY = """\
name: hold
environment: {env}
steps:
  - traffic: {{rate: 5/s}}
  - wait: {wait}
"""


def _command(tmp_path: Path, env_file: Path, command: str, wait: str = "600s") -> tuple[list[str], str]:
    """``azchaos up`` or ``azchaos gameday`` of ``env_file``; the progress line that names its run."""
    if command == "up":  # killed while the stack starts: a half-started stack
        return [AZCHAOS, "up", "--env", str(env_file)], r"starting stack (\S+) "
    scenario = tmp_path / "hold.yaml"
    scenario.write_text(GAMEDAY.format(env=env_file, wait=wait))
    return [AZCHAOS, "gameday", str(scenario), "--report", str(tmp_path / "report")], r"on stack (\S+):"


@pytest.mark.parametrize("command", ["up", "gameday"])
def test_a_command_killed_while_it_holds_a_stack_leaves_nothing_behind(
        command: str, tmp_path: Path, tiny_env: Path, docker_client: docker.DockerClient) -> None:
    args, names_run = _command(tmp_path, tiny_env, command)
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    assert proc.stderr is not None
    said = []
    for line in proc.stderr:
        said.append(line)
        if found := re.search(names_run, line):
            run_id = found.group(1)
            break
    else:
        pytest.fail(f"azchaos {command} never named its stack (exit {proc.wait()}):\n{''.join(said)}")
    deadline = time.monotonic() + 120
    while not _objects_of(docker_client, run_id) and time.monotonic() < deadline:  # something to leave behind
        time.sleep(0.1)
    assert _objects_of(docker_client, run_id), f"azchaos {command} created nothing in 120 s"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = _left_after(docker_client, run_id, 60)
    assert not left, f"{len(left)} object(s) of the killed command are still there after 60 s: {sorted(left)}"


def test_a_game_day_that_started_its_stack_removes_it_at_the_end(
        tmp_path: Path, tiny_env: Path, docker_client: docker.DockerClient) -> None:
    args, names_run = _command(tmp_path, tiny_env, "gameday", wait="2s")
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.search(names_run, done.stderr)
    assert found, done.stderr[-3000:]
    assert _objects_of(docker_client, found.group(1)) == set(), "the game day left its stack running"
    assert f"removing stack {found.group(1)}" in done.stderr
