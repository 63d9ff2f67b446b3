"""The faults injected from the command line, per stack, in a small JSON file shared by processes.

``azchaos fault ...`` adds a record, ``azchaos heal`` removes it, ``azchaos status``
lists them. The file lives in ``$AZCHAOS_STATE_DIR/<run id>/faults.json``
(default: ``$XDG_STATE_HOME/azchaos`` or ``~/.local/state/azchaos``); every change
holds an exclusive lock on it and replaces it atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def state_dir() -> Path:
    explicit = os.environ.get("AZCHAOS_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "azchaos"


class FaultState:
    """The recorded faults of one stack (``run_id``)."""

    def __init__(self, run_id: str, *, folder: Path | None = None) -> None:
        self.path = (folder or state_dir()) / run_id / "faults.json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[dict[str, Any]]]:
        """Yield the records, locked; what the block leaves in the list is written back."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = self._read()
            yield records
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(records, indent=2))
            tmp.replace(self.path)

    def _read(self) -> list[dict[str, Any]]:
        try:
            return list(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return []

    def records(self) -> list[dict[str, Any]]:
        """Return the recorded faults, oldest first."""
        return self._read()

    def add(self, record: dict[str, Any], *, subject: str, expires_in_s: float | None = None,
            injected_at: float | None = None) -> str:
        """Record an injected fault; return its id (f1, f2, ...). ``injected_at`` (epoch seconds, default
        now) is when it took effect: its duration counts from then, not from when it was recorded."""
        with self._locked() as records:
            number = max((int(r["id"][1:]) for r in records), default=0) + 1
            now = time.time() if injected_at is None else injected_at
            records.append({"id": f"f{number}", "subject": subject, "injected_at": now, "pid": os.getpid(),
                            "expires_at": None if expires_in_s is None else now + expires_in_s, **record})
            return f"f{number}"

    def remove(self, fault_id: str) -> None:
        with self._locked() as records:
            records[:] = [r for r in records if r["id"] != fault_id]

    def clear(self) -> None:
        with self._locked() as records:
            records.clear()
