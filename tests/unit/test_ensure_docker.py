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


# Stays up a while, as a dockerd does: had it exited at once, the script could see it gone before
# it saw the engine answer, and report an exit.
UP = 'find . -name "*.pid" | sort > {tmp}/seen; touch {tmp}/up; exec sleep 10'


def start(tmp_path: Path, pidfiles: dict[str, int],
          dockerd: str = UP) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the script where no engine answers and no dockerd runs, with these pid files under a
    fake /var/run; return its result and the pid files that were still there when dockerd started."""
    bin_dir, run_dir = tmp_path / "bin", tmp_path / "run"
    (run_dir / "docker" / "containerd").mkdir(parents=True)
    bin_dir.mkdir()
    for name, pid in pidfiles.items():
        (run_dir / name).write_text(f"{pid}\n")
    fakes = {
        "docker": f'case "$1" in info) [ -f {tmp_path}/up ];; version) echo 99;; *) exit 0;; esac',
        "dockerd": f"cd {run_dir} && " + dockerd.format(tmp=tmp_path),
        "pgrep": "exit 1",  # no dockerd runs
        "id": "echo 0",  # as root
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "AZCHAOS_RUN_DIR": str(run_dir),
           "AZCHAOS_DOCKERD_LOG": str(tmp_path / "dockerd.log")}
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    seen = (tmp_path / "seen").read_text().split() if (tmp_path / "seen").exists() else []
    return done, seen


def test_a_pid_file_naming_another_process_is_removed_before_dockerd_starts(tmp_path: Path) -> None:
    # The machine restarted with /var/run kept: containerd's old PID now belongs to another process
    # (here this test's), and dockerd would wait for that "containerd" until it gives up.
    done, seen = start(tmp_path, {"docker/containerd/containerd.pid": os.getpid(), "docker.pid": 2**22 + 1})
    assert done.returncode == 0, done.stderr
    assert seen == [], "dockerd started beside stale pid files"
    assert f"containerd.pid: it names process {os.getpid()}, which is not a running containerd" in done.stderr


def test_the_pid_file_of_a_running_containerd_is_kept(tmp_path: Path) -> None:
    named = tmp_path / "containerd"  # a process whose name is containerd, as the kernel reports it
    named.symlink_to("/bin/sleep")
    proc = subprocess.Popen([str(named), "30"])
    try:
        done, seen = start(tmp_path, {"docker/containerd/containerd.pid": proc.pid})
    finally:
        proc.kill()
        proc.wait()
    assert done.returncode == 0, done.stderr
    assert seen == ["./docker/containerd/containerd.pid"]


def test_a_dockerd_that_exits_is_reported_with_its_error_at_once(tmp_path: Path) -> None:
    failing = ('echo "level=info msg=\\"Starting up\\""; echo "failed to start containerd: timeout waiting '
               'for containerd to start"; echo "level=info msg=\\"bye\\""; exit 1')
    done, _ = start(tmp_path, {}, dockerd=failing)
    assert done.returncode == 1
    assert "dockerd exited before it answered: failed to start containerd: timeout waiting" in done.stderr
    assert "did not answer within" not in done.stderr, "it waited for a dockerd that had exited"
