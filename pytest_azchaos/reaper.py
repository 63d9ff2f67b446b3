"""Remove a run's stack when the process that owns it dies without removing it (SIGKILL, OOM).

In the spirit of Testcontainers' Ryuk, but a host process rather than a
container, because no stack container ever gets the Docker socket. The owner
starts one reaper per stack; on a normal exit it stops the reaper itself (and
removes the stack, unless asked to keep it).

    python -m pytest_azchaos.reaper RUN_ID OWNER_PID
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

POLL_S = 1.0


def spawn(run_id: str, owner_pid: int | None = None) -> subprocess.Popen[bytes]:
    """Start a reaper for ``run_id`` that outlives a killed owner (a new session, no shared pipes)."""
    return subprocess.Popen(
        [sys.executable, "-m", "pytest_azchaos.reaper", run_id, str(owner_pid or os.getpid())],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True,
    )


def alive(pid: int) -> bool:
    """Return True if process ``pid`` exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def main(argv: list[str]) -> int:
    run_id, owner = argv[0], int(argv[1])
    while alive(owner):
        time.sleep(POLL_S)
    from .backend import DockerBackend

    DockerBackend().remove_run(run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
