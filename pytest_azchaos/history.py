"""The recorded history of a run: every operation the load generator sent, and what came of it.

The checks and the charts read it; they do not depend on the generator that wrote it
(as Jepsen's checker reads the history, not the client).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

OK, FAILED, UNKNOWN = "ok", "failed", "unknown"
READ, WRITE, OTHER = "read", "write", "other"
NO_KEY_YET = "azchaos-no-key-yet"


@dataclass(frozen=True)
class Operation:
    """One recorded operation. Times are time.monotonic() seconds."""

    kind: str
    scheduled: float
    start: float
    end: float
    outcome: str  # ok | failed | unknown (sent, but no answer: it may have happened)
    status: int | None = None
    error: str | None = None
    key: str | None = None  # writes: the key acknowledged (None unless ok); reads: the key read
    action: str = OTHER  # read | write | other
    value: str | None = None  # SHA-256 of the value written (acknowledged) or read (None: absent)
    detail: str | None = None  # failures: what the server said (the start of its answer)
    upstream: str | None = None  # through the LB: the replicas it tried, "app-a-1 > app-b-1"

    @property
    def latency(self) -> float:
        """Seconds from the scheduled time to the end: stalls included."""
        return self.end - self.scheduled

    @property
    def lag(self) -> float:
        """Seconds the client started late (its own scheduling lag)."""
        return self.start - self.scheduled

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class History:
    """Every operation of a run, thread-safe to append to."""

    def __init__(self, operations: Sequence[Operation] = ()) -> None:
        self._ops = list(operations)
        self._lock = threading.Lock()

    def append(self, op: Operation) -> None:
        with self._lock:
            self._ops.append(op)

    @property
    def operations(self) -> list[Operation]:
        with self._lock:
            return sorted(self._ops, key=lambda op: op.scheduled)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ops)

    def failed(self) -> list[Operation]:
        return [op for op in self.operations if op.outcome == FAILED]

    def writes(self) -> list[Operation]:
        """Every write, acknowledged or not."""
        return [op for op in self.operations if op.action == WRITE]
