"""The workload: an open-loop load generator through the load balancer, and its history.

Operations are scheduled at a fixed rate (optionally ramped up), whatever the
server does; latency is measured from the *scheduled* time, so a stalled server
cannot hide its stall behind a waiting client (no coordinated omission).

A workload is a weighted mix of operation kinds: HTTP requests (:class:`Request`)
or Python callables (:class:`Call`). Writes record the key that was
acknowledged and a digest of the value, reads the digest of what they saw, so
that checks can find lost writes and stale reads.

Example::

    with Traffic(stack.lb_url, rate_per_s=50) as traffic:
        time.sleep(10)
    traffic.history.failed()
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import itertools
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from .client import DETAIL_CHARS, Client, NotSent, ProtocolError, digest, tried
from .errors import ConfigError
from .history import FAILED, NO_KEY_YET, OK, OTHER, READ, UNKNOWN, WRITE, History, Operation
from .units import parse_duration
from .workers import Workers

# The history moved to pytest_azchaos.history; these names stay importable from here.
__all__ = ["DEFAULT_WORKLOAD", "FAILED", "NO_KEY_YET", "OK", "OTHER", "READ", "UNKNOWN", "WRITE", "Call", "Client",
           "History", "Kind", "Operation", "Request", "Traffic", "Workload", "digest", "schedule", "weighted_turns"]


@dataclass(frozen=True)
class Request:
    """An HTTP operation kind: method and path relative to the LB; ``{n}`` is the sequence number.

    A write names the ``key`` it stores (acknowledged by a 2xx); a read names the
    kind of write whose latest acknowledged key it reads (``reads``), as ``{key}``
    in its path. ``size`` generates a body of that many bytes (e.g. a multipart object).
    """

    kind: str
    method: str = "GET"
    path: str = "/"
    body: str | None = None
    key: str | None = None
    weight: float = 1.0
    reads: str | None = None
    size: int | None = None

    def format(self, n: int, key: str | None = None) -> Request:
        if not self.reads and "{" not in self.path and "{" not in (self.body or "") and "{" not in (self.key or ""):
            return self  # nothing to fill in (the common case at high rates: skip the copy)
        fields = {"n": n, "key": key or NO_KEY_YET}
        return replace(
            self, path=self.path.format(**fields),
            body=None if self.body is None else self.body.format(**fields),
            key=key if self.reads else (None if self.key is None else self.key.format(**fields)),
        )

    @property
    def action(self) -> str:
        return READ if self.reads else WRITE if self.key is not None else OTHER

    def payload(self, n: int) -> bytes | None:
        """Return the body to send: ``body`` formatted, or ``size`` bytes derived from ``n``."""
        if self.size is not None:
            block = hashlib.sha256(f"{self.kind}-{n}".encode()).digest()
            return (block * (self.size // len(block) + 1))[: self.size]
        return None if self.body is None else self.body.encode()


@dataclass(frozen=True)
class Call:
    """An operation kind that is a Python callable, for apps that are not driven by plain HTTP.

    ``fn(n)`` performs operation number ``n``; for a write it returns the key it
    stored. An exception is a failure; a TimeoutError means "unknown" (it may have happened).
    """

    kind: str
    fn: Callable[[int], str | None]
    weight: float = 1.0
    write: bool = False


Kind = Request | Call
DEFAULT_WORKLOAD: tuple[Kind, ...] = (Request("read", "GET", "/"),)
Workload = Sequence[Kind]


def weighted_turns(weights: Sequence[float]) -> Iterator[int]:
    """Yield indexes in smooth weighted round-robin order: exact proportions, evenly interleaved."""
    current = [0.0] * len(weights)
    total = sum(weights)
    while True:
        for i, w in enumerate(weights):
            current[i] += w
        best = max(range(len(weights)), key=current.__getitem__)
        current[best] -= total
        yield best


def schedule(rate_per_s: float, *, ramp_from_per_s: float | None = None, ramp_s: float = 0) -> Iterator[float]:
    """Yield the offsets (seconds from the start) of operations at ``rate_per_s``, ramped linearly
    from ``ramp_from_per_s`` over the first ``ramp_s`` seconds.

    >>> list(itertools.islice(schedule(4), 3))
    [0.0, 0.25, 0.5]
    """
    if ramp_from_per_s is None or ramp_s <= 0:
        yield from (n / rate_per_s for n in itertools.count())
        return
    t = 0.0
    while True:
        yield t
        rate = rate_per_s if t >= ramp_s else ramp_from_per_s + (rate_per_s - ramp_from_per_s) * t / ramp_s
        t += 1 / max(rate, 0.01)


class Traffic:
    """An open-loop generator of operations against ``base_url`` at ``rate_per_s``.

    Parameters: ``workload`` is a weighted mix of :class:`Request` and :class:`Call`
    kinds (weights are kept exactly, evenly interleaved); ``ramp_from_per_s`` and
    ``ramp`` ramp the rate up linearly; ``timeout_s`` bounds each request;
    ``max_in_flight`` bounds the operations under way at once (threads are added only
    while the server stalls, see :mod:`pytest_azchaos.workers`); ``upstreams`` names the
    LB's target addresses ("10.0.0.5:80" -> "app-a-1") in each operation's ``upstream``;
    ``resend_unanswered`` resends any request, not only idempotent ones, whose kept-alive
    connection closed without a word (only sound through a proxy that answers for its targets,
    such as the region's LB: :meth:`Client.send`).
    """

    def __init__(
        self,
        base_url: str,
        *,
        rate_per_s: float = 50,
        workload: Workload = DEFAULT_WORKLOAD,
        timeout_s: float = 10,
        max_in_flight: int = 256,
        history: History | None = None,
        ramp_from_per_s: float | None = None,
        ramp: float | str = 0,
        upstreams: Mapping[str, str] | None = None,
        resend_unanswered: bool = False,
    ) -> None:
        if not _is_loopback(base_url):
            raise ConfigError(f"traffic goes only to 127.0.0.1 (loopback), not to {base_url!r}")
        _check_rates(rate_per_s, ramp_from_per_s)
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
            raise ConfigError(f"max_in_flight must be a whole number >= 1, found {max_in_flight!r}")
        _check_workload(workload)
        self.base_url = base_url.rstrip("/")
        self.rate_per_s = float(rate_per_s)
        self.ramp_from_per_s = ramp_from_per_s
        self.ramp_s = parse_duration(ramp, what="ramp")
        self.workload = list(workload)
        self.timeout_s = timeout_s
        self.history = history if history is not None else History()
        self._workers = Workers(max_in_flight, name="azchaos-traffic")
        self._stop = threading.Event()
        self._local = threading.local()
        self._clients: list[Client] = []
        self._lock = threading.Lock()
        self._scheduler: threading.Thread | None = None
        self._latest: dict[str, str] = {}  # write kind -> latest acknowledged key
        self.upstreams = dict(upstreams or {})  # the LB's target addresses -> member aliases
        self.resend_unanswered = resend_unanswered

    def start(self) -> Traffic:
        """Start sending in the background (again is a no-op: ``with experiment.traffic()`` starts it once)."""
        if self._scheduler is not None:
            return self
        self._scheduler = threading.Thread(target=self._schedule, name="azchaos-scheduler", daemon=True)
        self._scheduler.start()
        return self

    def stop(self) -> History:
        """Stop scheduling, wait for operations in flight, and return the history."""
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.join()
        self._workers.shutdown()
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()
        return self.history

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _schedule(self) -> None:
        t0 = time.monotonic()
        turns = weighted_turns([kind.weight for kind in self.workload])
        offsets = schedule(self.rate_per_s, ramp_from_per_s=self.ramp_from_per_s, ramp_s=self.ramp_s)
        for n, (offset, turn) in enumerate(zip(offsets, turns, strict=False)):
            scheduled = t0 + offset
            if self._wait_until(scheduled):
                return
            self._workers.submit(functools.partial(self._perform, self.workload[turn], n, scheduled))

    def _wait_until(self, moment: float) -> bool:
        """Wait until ``moment``, adding threads for operations that wait for one; True if stopped."""
        while True:
            due = self._workers.grow()
            delay = moment - time.monotonic()
            if delay <= 0:
                return self._stop.is_set()
            if self._stop.wait(delay if due is None else min(delay, due)):
                return True

    def _perform(self, kind: Kind, n: int, scheduled: float) -> None:
        try:
            if isinstance(kind, Call):
                self._call(kind, n, scheduled)
            else:
                self._request(kind.format(n, self._latest.get(kind.reads or "")), n, scheduled)
        except Exception as exc:  # a bug of ours must not lose the operation from the history
            self._record(Operation(kind.kind, scheduled, scheduled, time.monotonic(), UNKNOWN,
                                   error=f"{type(exc).__name__} in pytest-azchaos: {exc}"))

    def _client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = Client(self.base_url, timeout_s=self.timeout_s,
                                                 resend_unanswered=self.resend_unanswered)
            with self._lock:
                self._clients.append(client)
        return client

    def _request(self, request: Request, n: int, scheduled: float) -> None:
        start = time.monotonic()
        body = request.payload(n)
        try:
            answer = self._client().send(request.method, request.path, body)
        except NotSent as exc:  # refused, unreachable, or no connection in time: nothing was sent
            self._record(Operation(request.kind, scheduled, start, time.monotonic(), FAILED,
                                   error=exc.error, action=request.action))
            return
        except (OSError, ProtocolError) as exc:  # sent, but no answer: its fate is unknown
            self._record(Operation(request.kind, scheduled, start, time.monotonic(), UNKNOWN,
                                   error=_error_name(exc), action=request.action, detail=_said(exc)))
            return
        outcome = OK if answer.status < 500 else FAILED
        value = answer.seen() if request.action == READ else digest(body)
        self._record(Operation(
            request.kind, scheduled, start, time.monotonic(), outcome, answer.status,
            None if outcome == OK else f"HTTP {answer.status}",
            request.key if _acknowledged(answer.status) or request.action == READ else None, request.action,
            value if outcome == OK else None,
            None if outcome == OK else answer.detail(), tried(answer.upstream, self.upstreams),
        ))

    def _call(self, call: Call, n: int, scheduled: float) -> None:
        start = time.monotonic()
        action = WRITE if call.write else OTHER
        try:
            key = call.fn(n)
        except TimeoutError as exc:
            self._record(Operation(call.kind, scheduled, start, time.monotonic(), UNKNOWN,
                                   error=type(exc).__name__, action=action, detail=_said(exc)))
            return
        except Exception as exc:  # any error of the user's operation is a failed operation
            self._record(Operation(call.kind, scheduled, start, time.monotonic(), FAILED,
                                   error=type(exc).__name__, action=action, detail=_said(exc)))
            return
        self._record(Operation(call.kind, scheduled, start, time.monotonic(), OK, key=key, action=action))

    def _record(self, op: Operation) -> None:
        self.history.append(op)
        if op.action == WRITE and op.outcome == OK and op.key is not None:
            self._latest[op.kind] = op.key


def _error_name(exc: BaseException) -> str:
    """The error class of an operation that got no answer; a timeout says it was waiting to read."""
    return "ReadTimeout" if isinstance(exc, TimeoutError) else type(exc).__name__


def _said(exc: BaseException) -> str | None:
    """What an error said, for the SLO message's "most often": the class alone did not tell a
    connection closed mid-answer from one closed before it."""
    return " ".join(str(exc).split())[:DETAIL_CHARS] or None


def _acknowledged(status: int) -> bool:
    """A write is acknowledged by a 2xx only: a 4xx is an answer (not a failure) that stored nothing."""
    return 200 <= status < 300


# Ten times what the generator keeps up with on a CI runner (bench/): beyond it a rate is a flood, not a test.
MAX_RATE_PER_S = 50_000


def _check_rates(rate_per_s: float, ramp_from_per_s: float | None) -> None:
    for name, rate in (("rate_per_s", rate_per_s), ("ramp_from_per_s", ramp_from_per_s)):
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))
                                 or not 0 < rate <= MAX_RATE_PER_S):  # also refuses nan and inf
            raise ConfigError(f"{name} must be a number > 0 and <= {MAX_RATE_PER_S}, found {rate!r}")


def _check_workload(workload: Workload) -> None:
    if not workload:
        raise ConfigError("the workload needs at least one operation kind")
    for kind in workload:
        if not isinstance(kind, (Request, Call)):
            raise ConfigError(f"a workload holds Request and Call kinds, found {kind!r}")
        if isinstance(kind.weight, bool) or not isinstance(kind.weight, (int, float)) or kind.weight <= 0:
            raise ConfigError(f"workload kind {kind.kind!r}: the weight must be > 0, found {kind.weight!r}")
    writes = {k.kind for k in workload if isinstance(k, Request) and k.action == WRITE}
    for kind in workload:
        if isinstance(kind, Request) and kind.reads and kind.reads not in writes:
            raise ConfigError(f"workload kind {kind.kind!r} reads {kind.reads!r}, which is not a write kind "
                              f"of this workload (writes: {', '.join(sorted(writes)) or 'none'})")


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

