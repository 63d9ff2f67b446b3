"""The workload: an open-loop load generator through the load balancer, and its history.

Operations are scheduled at a fixed rate, whatever the server does; latency is
measured from the *scheduled* time, so a stalled server cannot hide its stall
behind a waiting client (no coordinated omission).

Example::

    with Traffic(stack.lb_url, rate_per_s=50) as traffic:
        time.sleep(10)
    traffic.history.failed()
"""

from __future__ import annotations

import ipaddress
import itertools
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import requests

from .errors import ConfigError

OK, FAILED, UNKNOWN = "ok", "failed", "unknown"


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
    key: str | None = None

    @property
    def latency(self) -> float:
        """Seconds from the scheduled time to the end: stalls included."""
        return self.end - self.scheduled

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


@dataclass(frozen=True)
class Request:
    """An HTTP operation kind: method and path relative to the LB; ``{n}`` is the sequence number."""

    kind: str
    method: str = "GET"
    path: str = "/"
    body: str | None = None
    key: str | None = None  # for writes: the key that is acknowledged by a 2xx

    def format(self, n: int) -> Request:
        return Request(
            self.kind, self.method, self.path.format(n=n),
            None if self.body is None else self.body.format(n=n),
            None if self.key is None else self.key.format(n=n),
        )


DEFAULT_WORKLOAD = (Request("read", "GET", "/"),)
Workload = Sequence[Request]


class Traffic:
    """An open-loop generator of HTTP requests to ``base_url`` at ``rate_per_s``."""

    def __init__(
        self,
        base_url: str,
        *,
        rate_per_s: float = 50,
        workload: Workload = DEFAULT_WORKLOAD,
        timeout_s: float = 10,
        max_in_flight: int = 256,
        history: History | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> None:
        if not _is_loopback(base_url):
            raise ConfigError(f"traffic goes only to 127.0.0.1 (loopback), not to {base_url!r}")
        if rate_per_s <= 0:
            raise ConfigError(f"rate_per_s must be > 0, found {rate_per_s!r}")
        if not workload:
            raise ConfigError("the workload needs at least one request kind")
        self.base_url = base_url.rstrip("/")
        self.rate_per_s = float(rate_per_s)
        self.workload = list(workload)
        self.timeout_s = timeout_s
        self.history = history if history is not None else History()
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="azchaos-traffic")
        self._stop = threading.Event()
        self._local = threading.local()
        self._scheduler: threading.Thread | None = None

    def start(self) -> Traffic:
        """Start sending in the background."""
        self._scheduler = threading.Thread(target=self._schedule, name="azchaos-scheduler", daemon=True)
        self._scheduler.start()
        return self

    def stop(self) -> History:
        """Stop scheduling, wait for operations in flight, and return the history."""
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.join()
        self._pool.shutdown(wait=True)
        return self.history

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _schedule(self) -> None:
        interval = 1.0 / self.rate_per_s
        t0 = time.monotonic()
        for n in itertools.count():
            scheduled = t0 + n * interval
            delay = scheduled - time.monotonic()
            if self._stop.wait(delay) if delay > 0 else self._stop.is_set():
                return
            request = self.workload[n % len(self.workload)].format(n)
            self._pool.submit(self._perform, request, scheduled)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _perform(self, request: Request, scheduled: float) -> None:
        start = time.monotonic()
        try:
            response = self._session().request(
                request.method, self.base_url + request.path, data=request.body,
                timeout=(1.0, self.timeout_s),
            )
        except requests.ConnectionError as exc:
            # Refused or reset before an answer: for a connect error nothing was sent.
            outcome = FAILED if _never_sent(exc) else UNKNOWN
            self._record(request, scheduled, start, outcome, None, type(exc).__name__)
            return
        except requests.RequestException as exc:  # a read timeout: sent, fate unknown
            self._record(request, scheduled, start, UNKNOWN, None, type(exc).__name__)
            return
        outcome = OK if response.status_code < 500 else FAILED
        error = None if outcome == OK else f"HTTP {response.status_code}"
        self._record(request, scheduled, start, outcome, response.status_code, error)

    def _record(
        self, request: Request, scheduled: float, start: float,
        outcome: str, status: int | None, error: str | None,
    ) -> None:
        key = request.key if outcome == OK else None
        self.history.append(Operation(request.kind, scheduled, start, time.monotonic(),
                                      outcome, status, error, key))


def _is_loopback(url: str) -> bool:
    """Return True for a plain http:// URL whose host is loopback (no user part to hide another host)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or "@" in parts.netloc or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _never_sent(exc: requests.ConnectionError) -> bool:
    return isinstance(exc, requests.exceptions.ConnectTimeout) or "refused" in str(exc).lower()
