"""Remove a run's stack when the process that owns it dies without removing it.

Two mechanisms, because no one of them covers every way a run ends:

- **The reaper**: a host process per stack, in a session of its own, that removes the stack
  within a second of its owner's death (SIGKILL of pytest alone, an OOM kill of pytest).
  It dies with its owner when a whole cgroup or process tree is killed (a CI job cancelled).
- **The sweep** (:func:`sweep`), run by every start (the plugin, ``azchaos up``, ``azchaos
  gameday``, ``Stack.owned()``: each takes a :class:`Guard`) and by ``azchaos down --orphans``:
  every container and network of a run carries the label ``azchaos.owner``, a token naming the
  owner process exactly (host, machine, boot, PID namespace, PID and start time). A run whose
  owner is *provably* dead on this host, or ended when this machine restarted, and that was
  not kept on purpose (``azchaos up``, ``--azchaos-keep``), is removed (:func:`orphans`). A run
  of a live process, of another host or container, or without that label, is never touched.

Why not a reaper container like Testcontainers' Ryuk, which survives any kill of the test
process? It needs the Docker socket mounted into a container that the stack's networks can
reach on its published port; DESIGN.md keeps the socket out of every container, and the
sweep costs one list call per start.

    python -m pytest_azchaos.stack.reaper RUN_ID OWNER_PID
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from types import TracebackType

from ..errors import StackError
from .backend import LABEL_KEPT, LABEL_OWNER, Backend, DockerBackend
from .owner import alive, describe, earlier_boot, owner_dead

POLL_S = 1.0
RELEASE_WAIT_S = 10.0


def spawn(run_id: str, owner_pid: int | None = None) -> subprocess.Popen[bytes]:
    """Start a reaper for ``run_id`` that outlives a killed owner (a new session, no shared pipes)."""
    return subprocess.Popen(
        [sys.executable, "-m", "pytest_azchaos.stack.reaper", run_id, str(owner_pid or os.getpid())],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True,
    )


DIED = "left by a process that died"
REBOOTED = "left from before this machine restarted"
KEPT = "kept ('azchaos up' or --azchaos-keep)"


def orphans(backend: DockerBackend) -> dict[str, str]:
    """Return the runs (run id -> how their owner ended) whose owner provably ended and that were
    not kept.

    Either the owner died in this boot (:func:`owner_dead`), or it ran on this machine in an
    earlier boot (:func:`earlier_boot`). The latter only where the engine runs on this machine
    too and none of the run's containers runs: a restart stops them all (runs have no restart
    policy), and a live run of a cloned machine, which could share an engine over the network,
    has running containers."""
    found: dict[str, str] = {}
    rebooted = []
    for run, labels in backend.run_labels().items():
        token = labels.get(LABEL_OWNER, "")
        if labels.get(LABEL_KEPT):
            continue
        if owner_dead(token):
            found[run] = DIED
        elif earlier_boot(token):
            rebooted.append(run)
    if rebooted and backend.on_this_machine():
        running = backend.running_runs()
        found.update({run: REBOOTED for run in rebooted if run not in running})
    return dict(sorted(found.items()))


def standing(backend: DockerBackend) -> dict[str, str]:
    """Say for each run who holds it: kept on purpose, a live owner (here or elsewhere), or none
    (left behind: the next start removes it). For ``azchaos list``."""
    left = orphans(backend)
    said = {}
    for run, labels in backend.run_labels().items():
        if labels.get(LABEL_KEPT):
            said[run] = f"{KEPT}: 'azchaos down --run-id' removes it"
        elif run in left:
            said[run] = f"{left[run]}: the next start removes it"
        else:
            said[run] = describe(labels.get(LABEL_OWNER, ""))
    return said


def sweep(backend: DockerBackend, progress: Callable[[str], None] = print) -> list[str]:
    """Remove the runs left behind by owners that ended on this host; return their run ids."""
    found = orphans(backend)
    for run_id, why in found.items():
        try:
            removed = backend.remove_run(run_id)
        except StackError as exc:
            # A leftover the engine cannot remove (a stale network endpoint inside dockerd) must not
            # stop this run from starting: say so, and go on.
            progress(f"warning: could not remove stack {run_id} {why}: {exc}")
            continue
        progress(f"removed stack {run_id} {why} ({removed} objects)")
    return list(found)


class Guard:
    """What every start of a stack takes, said once: the runs that dead owners left behind are
    swept, then a reaper removes ``run_id`` if this process dies before :meth:`release`.

    Release it only once the stack is removed or kept (``mark_kept``): a process killed while
    removing leaves the rest to its reaper. Used as a context manager, or held across hooks
    (the plugin starts its stack in one and removes it in another). A backend that is not a
    Docker engine on this host (the unit tests' fakes) leaves nothing on the host to guard."""

    def __init__(self, backend: Backend, run_id: str, progress: Callable[[str], None] = print) -> None:
        self._reaper: subprocess.Popen[bytes] | None = None
        if isinstance(backend, DockerBackend):
            sweep(backend, progress)
            self._reaper = spawn(run_id)

    def release(self) -> None:
        """Stop the reaper: from now on the run is removed, or kept on purpose."""
        if self._reaper is not None:
            self._reaper.kill()
            # SIGKILL ends it at once; were it ever not to, a session's end must not hang on it (the
            # reaper then finds the run removed or kept, and leaves it).
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._reaper.wait(timeout=RELEASE_WAIT_S)
            self._reaper = None

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def main(argv: list[str]) -> int:
    run_id, owner = argv[0], int(argv[1])
    while alive(owner):
        time.sleep(POLL_S)
    backend = DockerBackend()
    if not backend.run_labels().get(run_id, {}).get(LABEL_KEPT):
        backend.remove_run(run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
