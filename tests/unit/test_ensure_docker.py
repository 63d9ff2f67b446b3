"""scripts/ensure-docker.sh against a fake ``docker`` on PATH: an engine whose networking hangs
is refused with one clear error, not taken for a working one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ensure-docker.sh"


def run(tmp_path: Path, network: str) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "docker"
    fake.write_text(f'#!/bin/sh\ncase "$1" in info) exit 0;; network) {network};; esac\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "AZCHAOS_ENGINE_TIMEOUT_S": "1"}
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


def test_an_engine_that_answers_is_left_alone(tmp_path: Path) -> None:
    done = run(tmp_path, "exit 0")
    assert done.returncode == 0 and "already answers; nothing to do" in done.stderr


def test_an_engine_whose_networking_hangs_is_refused_with_a_hint(tmp_path: Path) -> None:
    done = run(tmp_path, "exec sleep 30")
    assert done.returncode == 1
    assert "its network API did not within 1 s" in done.stderr and "restart dockerd" in done.stderr
