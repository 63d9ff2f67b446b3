"""The example application under test: a small HTTP service, one replica per container.

Endpoints (JSON unless said otherwise):
  GET  /healthz          200 while this replica can serve (shallow, like an ALB target check)
  GET  /                 which replica and AZ answered
  POST /items            store the request body as a new item; 201 {"key": ...} once committed
  GET  /items/KEY        read an item back
  PUT  /objects/KEY      store the body in S3 (multipart above 8 MiB); {"key", "sha256"}
  GET  /objects/KEY      the object's bytes, with its SHA-256 in X-Checksum-Sha256

Configuration comes from the environment: PORT, AZCHAOS_AZ, AZCHAOS_REPLICA,
DATABASE_URL (PostgreSQL; without it items live in this replica's memory),
DATABASE_READ_URL (optional: a reader endpoint that item reads fall back to while
the primary is unreachable, e.g. during a failover),
S3_ENDPOINT_URL, S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

AZ = os.environ.get("AZCHAOS_AZ", "?")
REPLICA = os.environ.get("AZCHAOS_REPLICA", "?")
DATABASE_URL = os.environ.get("DATABASE_URL")
DATABASE_READ_URL = os.environ.get("DATABASE_READ_URL")
S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL")
BUCKET = os.environ.get("S3_BUCKET", "azchaos")
PART_SIZE = 8 * 1024 * 1024
READ_RETRY_S = 2.5  # item reads are retried for this long while no DB endpoint answers
# Every request is answered within about 4 s, below the load balancer's 5 s read timeout: a
# replica that waits on a slow dependency answers 503 instead of looking dead to the LB (which
# would eject healthy replicas and leave none when, e.g., the DB's synchronous standby hangs).
STATEMENT_TIMEOUT_MS = 2000
S3_READ_TIMEOUT_S = 4
SYNC_CANCELED = "canceling wait for synchronous replication"
T = TypeVar("T")


class Unavailable(Exception):
    """A dependency (DB or S3) could not be reached: answer 503."""


class MemoryItems:
    """Items in this replica's memory: the store when no DATABASE_URL is given."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}
        self.lock = threading.Lock()

    def put(self, key: str, value: str) -> None:
        with self.lock:
            self.items[key] = value

    def get(self, key: str) -> str | None:
        with self.lock:
            return self.items.get(key)


def unavailable(exc: Exception) -> Unavailable:
    return Unavailable(f"database: {type(exc).__name__}: {str(exc).strip()[:200]}")


class Connections:
    """A pool of at most ``size`` PostgreSQL connections to one endpoint, shared by all threads:
    the last one returned is the next one lent (LIFO), a new one is opened when none is idle,
    and one that failed is closed instead of returned. A request waits up to WAIT_S for a
    connection, then answers 503: the DB sees a bounded number of sessions, even under overload.

    Not psycopg_pool: its connections are opened by background workers that back off for
    seconds after a refused connection, so after a failover the app would wait for its pool
    instead of reconnecting at once; here a request that finds no connection opens one itself
    (fast failure while the endpoint refuses, immediate recovery once it accepts)."""

    WAIT_S = 2.0

    def __init__(self, psycopg: Any, url: str, *, size: int = 16) -> None:
        self.psycopg, self.url = psycopg, url
        self.idle: list[Any] = []
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(size)

    def take(self) -> tuple[Any, bool]:
        """Return an idle connection (reused=True) or a new one; the caller must give it back."""
        if not self.slots.acquire(timeout=self.WAIT_S):
            raise Unavailable(f"database: no free connection in {self.WAIT_S:g} s")
        with self.lock:
            if self.idle:
                return self.idle.pop(), True
        try:
            conn = self.psycopg.connect(self.url, connect_timeout=2, autocommit=True,
                                        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}")
            conn.add_notice_handler(self.notice)
            return conn, False
        except BaseException:
            self.slots.release()
            raise

    notices = threading.local()  # the server's notices of the statement this thread runs

    def notice(self, diagnostic: Any) -> None:
        """Keep the server's warnings: psycopg calls this in the thread that runs the statement."""
        self.notices.seen = [*getattr(self.notices, "seen", []), str(diagnostic.message_primary or "")]

    def give_back(self, conn: Any) -> None:
        """Return a connection that worked; one that failed is closed and its slot freed."""
        if not conn.closed:
            with self.lock:
                self.idle.append(conn)
        self.slots.release()

    def discard_idle(self) -> None:
        """Close every idle connection: after one broke (a failover cut them all), the rest are suspect."""
        with self.lock:
            idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()


class DbItems:
    """Items in PostgreSQL, through a pool per endpoint. A connection that fails is closed, so
    the app follows a failover by itself: the DB endpoint cuts old sessions, we reconnect."""

    def __init__(self, url: str, read_url: str | None = None) -> None:
        import psycopg

        self.psycopg = psycopg
        self.urls = {"primary": url, "read": read_url or url}
        self.pools = {which: Connections(psycopg, self.urls[which]) for which in ("primary", "read")}
        threading.Thread(target=self.create_table, daemon=True).start()

    def create_table(self) -> None:
        while True:
            try:
                self.run("CREATE TABLE IF NOT EXISTS items (key text PRIMARY KEY, value text NOT NULL, "
                         "created_at timestamptz NOT NULL DEFAULT now())")
                return
            except Unavailable:
                time.sleep(1)

    def run(self, sql: str, params: tuple[Any, ...] = (), *, which: str = "primary") -> list[tuple[Any, ...]]:
        """Run one statement; a pooled connection that broke (e.g. cut by a failover) is replaced and
        the statement retried once on a new one, as drivers for RDS do."""
        pool = self.pools[which]
        for attempt in (1, 2):
            try:
                conn, reused = pool.take()
            except self.psycopg.Error as exc:
                raise unavailable(exc) from None
            try:
                pool.notices.seen = []
                cursor = conn.execute(sql, params)
                if any(SYNC_CANCELED in notice for notice in pool.notices.seen):
                    # statement_timeout ended the wait for the synchronous standby: PostgreSQL
                    # committed locally and says "success", but the standby may not have the row,
                    # so losing the primary now would lose it. Not an acknowledgement: answer 503.
                    raise Unavailable("database: committed on the primary but not confirmed by the "
                                      "synchronous standby within the statement timeout")
                return cursor.fetchall() if cursor.description else []
            except self.psycopg.Error as exc:
                conn.close()
                if attempt == 2 or not reused or not isinstance(exc, self.psycopg.OperationalError):
                    raise unavailable(exc) from None
                pool.discard_idle()
            finally:
                pool.give_back(conn)
        raise AssertionError("unreachable")

    def put(self, key: str, value: str) -> None:
        # An upsert: PUT is idempotent, so a statement retried after a broken connection is safe.
        self.run("INSERT INTO items (key, value) VALUES (%s, %s) "
                 "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (key, value))

    def get(self, key: str) -> str | None:
        """Read from the primary; while it is unreachable, from the reader endpoint (possibly stale).

        During a failover both endpoints can refuse for a moment (the dead node is not yet marked
        down, the promoted one is between roles), so a read that found neither is tried again with
        a growing pause for up to READ_RETRY_S, like an SDK's retry with backoff; it stays well
        below the load balancer's read timeout."""
        query = "SELECT value FROM items WHERE key = %s"
        endpoints = ["primary"] if self.urls["read"] == self.urls["primary"] else ["primary", "read"]
        deadline, pause = time.monotonic() + READ_RETRY_S, 0.1
        while True:
            for which in endpoints:
                try:
                    rows = self.run(query, (key,), which=which)
                    return str(rows[0][0]) if rows else None
                except Unavailable as exc:
                    failure = exc
            if time.monotonic() + pause > deadline:
                raise failure
            time.sleep(pause)
            pause = min(pause * 2, 0.8)


class Objects:
    """Objects in S3 through boto3; large bodies go up as multipart uploads, part by part."""

    def __init__(self, endpoint: str) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.client = boto3.client("s3", endpoint_url=endpoint, config=Config(
            # One attempt, bounded: the S3 endpoint already retries reads on another node.
            connect_timeout=1, read_timeout=S3_READ_TIMEOUT_S, retries={"max_attempts": 1, "mode": "standard"},
            s3={"addressing_style": "path"}, max_pool_connections=64))  # not 10: keep connections under load
        self.transfer = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE)
        threading.Thread(target=self.create_bucket, daemon=True).start()

    def create_bucket(self) -> None:
        while True:
            try:
                self.client.head_bucket(Bucket=BUCKET)
                return
            except Exception:
                try:
                    self.client.create_bucket(Bucket=BUCKET)
                    return
                except Exception:
                    time.sleep(1)

    def put(self, key: str, body: bytes) -> str:
        try:
            if len(body) < PART_SIZE:  # one request; upload_fileobj would start a thread pool for it
                closed_once_more(lambda: self.client.put_object(Bucket=BUCKET, Key=key, Body=body))
            else:
                closed_once_more(lambda: self.client.upload_fileobj(io.BytesIO(body), BUCKET, key,
                                                                    Config=self.transfer))
        except Exception as exc:
            raise Unavailable(f"s3: {type(exc).__name__}: {exc}") from None
        return hashlib.sha256(body).hexdigest()

    def get(self, key: str) -> bytes | None:
        try:
            return bytes(closed_once_more(lambda: self.client.get_object(Bucket=BUCKET, Key=key))["Body"].read())
        except self.client.exceptions.NoSuchKey:
            return None
        except Exception as exc:
            raise Unavailable(f"s3: {type(exc).__name__}: {exc}") from None


def closed_once_more(call: Callable[[], T]) -> T:
    """Make an S3 call, and once more if the endpoint closed its kept-alive connection before any
    answer (boto3's ConnectionClosedError): a load balancer closes idle connections when it reloads,
    and a request sent at that instant is never read. Each call is otherwise made once (no retries
    in the client's config): a timeout or an error answer is the S3 endpoint's to route around,
    within the 4 s this replica has."""
    from botocore.exceptions import ConnectionClosedError

    try:
        return call()
    except ConnectionClosedError:
        return call()


ITEMS: MemoryItems | DbItems = DbItems(DATABASE_URL, DATABASE_READ_URL) if DATABASE_URL else MemoryItems()
OBJECTS: Objects | None = Objects(S3_ENDPOINT_URL) if S3_ENDPOINT_URL else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffer each response and send it in one write (flushed after each request): a replica
    # that dies mid-request then leaves the LB nothing or everything, never headers without a
    # body, which could not be retried on another replica.
    wbufsize = 1 << 16

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass  # one line per request would flood the container log under load

    def reply(self, status: int, body: dict[str, object]) -> None:
        self.send_bytes(status, json.dumps(body).encode(), "application/json")

    def send_bytes(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def handle_one(self, action: Any) -> None:
        try:
            action()
        except Unavailable as exc:
            self.reply(503, {"error": str(exc), "replica": REPLICA})

    def do_GET(self) -> None:
        self.handle_one(self.get)

    def do_POST(self) -> None:
        self.handle_one(self.post)

    def do_PUT(self) -> None:
        self.handle_one(self.put)

    def get(self) -> None:
        if self.path == "/healthz":
            self.reply(200, {"status": "ok", "az": AZ, "replica": REPLICA})
        elif self.path == "/":
            self.reply(200, {"service": "example-app", "az": AZ, "replica": REPLICA})
        elif self.path.startswith("/items/"):
            key = self.path[len("/items/"):]
            value = ITEMS.get(key)
            if value is None:
                self.reply(404, {"error": "no such item", "key": key})
            else:
                self.reply(200, {"key": key, "value": value, "replica": REPLICA})
        elif self.path.startswith("/objects/") and OBJECTS is not None:
            data = OBJECTS.get(self.path[len("/objects/"):])
            if data is None:
                self.reply(404, {"error": "no such object"})
            else:
                digest = hashlib.sha256(data).hexdigest()
                self.send_bytes(200, data, "application/octet-stream", {"X-Checksum-Sha256": digest})
        else:
            self.reply(404, {"error": "not found", "path": self.path})

    def post(self) -> None:
        if self.path != "/items":
            self.reply(404, {"error": "not found", "path": self.path})
            return
        key = uuid.uuid4().hex
        ITEMS.put(key, self.body().decode(errors="replace"))
        self.reply(201, {"key": key, "replica": REPLICA})

    def put(self) -> None:
        if self.path.startswith("/items/"):  # an idempotent write under the client's key
            key = self.path[len("/items/"):]
            ITEMS.put(key, self.body().decode(errors="replace"))
            self.reply(200, {"key": key, "replica": REPLICA})
        elif self.path.startswith("/objects/") and OBJECTS is not None:
            key = self.path[len("/objects/"):]
            self.reply(200, {"key": key, "sha256": OBJECTS.put(key, self.body()), "replica": REPLICA})
        else:
            self.reply(404, {"error": "not found", "path": self.path})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog (socketserver's default is 5): a burst of new connections from the LB
    # must wait in the queue, not be refused, which the LB could only turn into a 502.
    request_queue_size = 1024


def main() -> None:
    server = Server(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler)
    # PID 1 ignores SIGTERM unless it says otherwise; stop promptly like a real service.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"example-app {REPLICA} in AZ {AZ} listening on {server.server_address}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
