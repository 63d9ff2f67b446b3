"""A run killed with SIGKILL leaves nothing behind: its reaper removes the stack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from pytest_azchaos.backend import LABEL_RUN

ROOT = Path(__file__).resolve().parents[2]


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
