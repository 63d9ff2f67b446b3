"""What the seed scenarios share: the default region, figures in the SLO summary, and the
measurements the engine does not make yet (see docs/scenarios.md).

- ``figures``: put a measured figure into the SLO summary like an SLO, and fail on a broken one;
- ``read_after_write``: a workload kind that reads each row back right after writing it;
- ``OldPrimaryProbe``: a client inside the cut-off AZ writing to the old primary (fencing);
- ``unencrypted_objects``: objects that S3 does not say are encrypted under the bucket's KMS key.

Capacity restoration (Auto Scaling) was one of them; it is the ``capacity_restored`` SLO now.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import pytest

from pytest_azchaos import Call, Experiment, SLOResult, Stack
from pytest_azchaos.checks import percentile, relation, seconds_text
from pytest_azchaos.history import FAILED, OK, READ, UNKNOWN, WRITE, History, Operation

Figure = Callable[..., SLOResult]


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("azchaos_env"):
        config.option.azchaos_env = "default"
    config.addinivalue_line("markers", "autoscaling: needs examples/scenarios/autoscaling.yaml (replace_after)")


@pytest.fixture
def primary_az(azchaos: Experiment) -> str:
    """The AZ of the DB primary now (an earlier test may have moved it from its first AZ)."""
    return leader_az(azchaos.stack)


def leader_az(stack: Stack) -> str:
    leader = stack.status()["roles"]["db"]["leader"]
    return stack.member(leader).az


@pytest.fixture
def old_primary_probe(azchaos: Experiment) -> Callable[[str], OldPrimaryProbe]:
    """Return ``probe(az)``: a client in ``az`` that writes to the DB primary of that AZ (``with`` it)."""
    return lambda az: OldPrimaryProbe(azchaos.stack, azchaos.history, az)


@pytest.fixture
def read_after_write(azchaos: Experiment) -> Callable[..., Call]:
    """Return ``kind(reader=...)``: a workload kind that reads each row right after writing it."""
    return lambda *, reader: read_after_write_kind(azchaos.history, azchaos.stack, reader=reader)


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figure:
    """Return ``figure(name, value, limit, why="", at_least=False, unit="")``: it puts the figure
    into the SLO summary and report, and raises SLOViolation if it is beyond its limit."""

    def figure(name: str, value: float, limit: float, why: str = "", *, at_least: bool = False,
               unit: str = "") -> SLOResult:
        passed = value >= limit if at_least else value <= limit
        shown = _shown(value, unit, limit)  # "205 ms >= 200 ms", not "0.2s >= 0.2s"
        message = f"{name} = {shown} {relation(passed, at_least)} {_shown(limit, unit)}" + (f": {why}" if why else "")
        result = SLOResult(name, value, limit, passed, message, unit, at_least=at_least)
        request.config.hook.pytest_azchaos_slo_evaluated(item=request.node, results=[result])
        result.raise_if_failed()
        return result

    return figure


def _shown(value: float, unit: str, against: float | None = None) -> str:
    return seconds_text(value, against) if unit == "s" else f"{value:g}"


def latency(history: History, kind: str, q: float) -> float:
    """The ``q``-th latency percentile (seconds, from the scheduled time) of one kind of operation."""
    return percentile([op.latency for op in history.operations if op.kind == kind and op.outcome != UNKNOWN], q)


def digest(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def read_after_write_kind(history: History, stack: Stack, *, reader: bool) -> Call:
    """A workload kind: write a row through the writer endpoint, then read it back at once through
    the reader endpoint (``reader``) or the writer; both are recorded, so that ``stale_reads``
    counts every read that missed the write acknowledged just before it."""
    import psycopg

    tag, local = uuid.uuid4().hex[:8], threading.local()
    writer_dsn, read_dsn = stack.db_dsn(), stack.db_dsn(reader=reader)

    def timed(kind: str, action: str, run: Callable[[], str | None], key: str) -> str | None:
        start = time.monotonic()
        value = run()
        history.append(Operation(kind, start, start, time.monotonic(), OK, key=key, action=action, value=digest(value)))
        return value

    def probe(n: int) -> None:
        if getattr(local, "writer", None) is None:
            local.writer = psycopg.connect(writer_dsn, autocommit=True, connect_timeout=2)
        key, value = f"{tag}-{n}", f"value-{tag}-{n}"
        timed("write", WRITE, lambda: local.writer.execute(
            "INSERT INTO items (key, value) VALUES (%s, %s)", (key, value)) and value, key)
        with psycopg.connect(read_dsn, autocommit=True, connect_timeout=2) as conn:  # a new one: balanced
            timed("read_" + ("reader" if reader else "writer"), READ, lambda: _value(conn, key), key)

    return Call("read_after_write", probe)


def _value(conn: object, key: str) -> str | None:
    row = conn.execute("SELECT value FROM items WHERE key = %s", (key,)).fetchone()  # type: ignore[attr-defined]
    return None if row is None else str(row[0])


@pytest.fixture
def unencrypted_objects(azchaos: Experiment) -> Callable[[list[str]], tuple[int, int, str]]:
    """Return ``unencrypted_objects(keys)``: the figure of :func:`count_unencrypted` on this region."""
    return lambda keys: count_unencrypted(azchaos.stack, keys)


def count_unencrypted(stack: Stack, keys: list[str]) -> tuple[int, int, str]:
    """The figure's value, limit and why: of the objects ``keys``, those that S3's HEAD does not
    show encrypted with SSE-KMS under the key of the bucket's default encryption (what an auditor
    would ask S3, through the region's S3 endpoint)."""
    import boto3
    from botocore.config import Config

    keys = list(dict.fromkeys(keys))  # a key written twice is one object
    s3 = stack.endpoints()["s3"]
    client = boto3.client("s3", endpoint_url=s3["url"], aws_access_key_id=s3["access_key"],
                          aws_secret_access_key=s3["secret_key"], region_name=s3["region"],
                          config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))
    try:
        rules = client.get_bucket_encryption(Bucket=s3["bucket"])["ServerSideEncryptionConfiguration"]["Rules"]
        wanted = str(rules[0]["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID", ""))
    except client.exceptions.ClientError:
        wanted = ""  # the bucket has no default encryption: nothing is encrypted under its key
    wrong: list[str] = []
    for key in keys:
        head = client.head_object(Bucket=s3["bucket"], Key=key)
        algorithm, under = head.get("ServerSideEncryption"), str(head.get("SSEKMSKeyId", ""))
        # S3 answers with the key's ARN where the configuration may name the key itself
        named = bool(wanted) and (under == wanted or under.endswith((f":{wanted}", f"/{wanted}")))
        if algorithm != "aws:kms" or not named:
            wrong.append(f"{key}: {algorithm or 'not encrypted'}{f' under {under}' if under else ''}")
    bucket = f"the bucket's key is {wanted}" if wanted else "the bucket has no default encryption"
    return len(wrong), 0, (f"of {len(keys)} acknowledged objects; first {wrong[0]} ({bucket})" if wrong
                           else f"of {len(keys)} acknowledged objects, all SSE-KMS under {wanted}")


T = TypeVar("T", bound="Every")


class Every:
    """Call ``tick()`` twice a second in a background thread while in a ``with`` block."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)

    def __enter__(self: T) -> T:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.tick()

    def tick(self) -> None:
        raise NotImplementedError


# --- fencing: a client on the cut-off side ---------------------------------------------------------

WRITE_OLD_PRIMARY = """
import sys, psycopg
dsn, key, value = sys.argv[1:]
with psycopg.connect(dsn, connect_timeout=2, autocommit=True) as conn:
    if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
        sys.exit(3)  # demoted: a standby refuses writes
    conn.execute("INSERT INTO items (key, value) VALUES (%s, %s)", (key, value))
"""
DEMOTED, NO_ANSWER = 3, 124


class OldPrimaryProbe(Every):
    """Write to the DB primary of ``az`` directly, from the app container of that AZ, twice a
    second: a client on the same side of a partition as the old primary. Every write is recorded
    (kind ``write_old_primary``), so lost_writes reads the acknowledged ones back; ``acknowledged
    after`` a time and ``first_demoted`` say whether and when the old primary was fenced."""

    def __init__(self, stack: Stack, history: History, az: str) -> None:
        self.stack, self.history = stack, history
        self.primary = next(m for m in stack.members(role="db") if m.az == az)
        self.client = stack.container_of(next(m for m in stack.members(role="app") if m.az == az).alias)
        self.dsn = (f"host={self.primary.alias} port={self.primary.port} dbname=postgres user=postgres "
                    f"password={stack.secret('db_password')}")
        self.tag, self.demoted_at, self.sent = uuid.uuid4().hex[:8], math.inf, 0
        super().__init__()

    def tick(self) -> None:
        self.sent += 1
        self.write(f"{self.tag}-old-{self.sent}")

    def write(self, key: str) -> None:
        value, start = f"value-{key}", time.monotonic()
        code, out = self.stack.backend.exec(self.client, ["timeout", "4", "python3", "-c", WRITE_OLD_PRIMARY,
                                                          self.dsn, key, value])
        outcome = OK if code == 0 else UNKNOWN if code == NO_ANSWER else FAILED
        if code == DEMOTED:
            self.demoted_at = min(self.demoted_at, start)
        self.history.append(Operation("write_old_primary", start, start, time.monotonic(), outcome,
                                      key=key if outcome == OK else None, action=WRITE,
                                      value=digest(value) if outcome == OK else None,
                                      error=None if code == 0 else f"exit {code}", detail=out.strip()[-200:] or None))

    def acknowledged_after(self, t: float) -> list[Operation]:
        return [op for op in self.history.operations
                if op.kind == "write_old_primary" and op.outcome == OK and op.start > t]
