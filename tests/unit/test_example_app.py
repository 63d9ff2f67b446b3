"""The example app's DB pool, S3 puts and server settings, without a DB, S3 or network."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import pytest

APP = Path(__file__).resolve().parents[2] / "examples" / "app" / "app.py"


@pytest.fixture(scope="module")
def app() -> Any:
    spec = importlib.util.spec_from_file_location("example_app_under_test", APP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeConnection:
    def __init__(self, db: FakeDb) -> None:
        self.db, self.closed = db, False
        self.notice_handlers: list[Any] = []

    def add_notice_handler(self, handler: Any) -> None:
        self.notice_handlers.append(handler)

    def execute(self, sql: str, params: tuple[Any, ...]) -> Any:
        if self in self.db.broken or self.db.everything_broken:
            raise self.db.psycopg.OperationalError("server closed the connection unexpectedly")
        self.db.statements.append((self, sql))
        for message in self.db.notices:  # what PostgreSQL sends before the command completes
            for handler in self.notice_handlers:
                handler(types.SimpleNamespace(message_primary=message))
        return types.SimpleNamespace(description=None, fetchall=list)

    def close(self) -> None:
        self.closed = True


class FakeDb:
    """A psycopg stand-in: counts connections opened, breaks the ones it is told to."""

    def __init__(self) -> None:
        self.opened: list[FakeConnection] = []
        self.broken: set[FakeConnection] = set()
        self.everything_broken = False
        self.statements: list[tuple[FakeConnection, str]] = []
        self.notices: list[str] = []
        error = type("Error", (Exception,), {})
        self.psycopg = types.SimpleNamespace(Error=error, OperationalError=type("OperationalError", (error,), {}),
                                             connect=self.connect)

    def connect(self, url: str, **kwargs: Any) -> FakeConnection:
        self.opened.append(FakeConnection(self))
        return self.opened[-1]


@pytest.fixture
def db(app: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, FakeDb]:
    fake = FakeDb()
    monkeypatch.setitem(sys.modules, "psycopg", fake.psycopg)
    monkeypatch.setattr(app.DbItems, "create_table", lambda self: None)
    return app.DbItems("postgresql://primary", "postgresql://reader"), fake


def test_requests_in_turn_reuse_one_connection(db: tuple[Any, FakeDb]) -> None:
    items, fake = db
    for n in range(5):
        items.put(f"k{n}", "v")
    assert len(fake.opened) == 1
    assert len(fake.statements) == 5


def test_a_connection_cut_by_a_failover_is_replaced_and_the_statement_retried(db: tuple[Any, FakeDb]) -> None:
    items, fake = db
    items.put("k1", "v")
    fake.broken.add(fake.opened[0])
    items.put("k2", "v")
    assert len(fake.opened) == 2
    assert fake.opened[0].closed
    assert fake.statements[-1][0] is fake.opened[1]


def test_a_write_whose_sync_replication_wait_was_canceled_is_not_acknowledged(
        app: Any, db: tuple[Any, FakeDb]) -> None:
    """statement_timeout ends the wait for the synchronous standby with a WARNING and a "success":
    the row is only on the primary, so the app must answer 503, never 200."""
    items, fake = db
    fake.notices = ["canceling wait for synchronous replication due to user request"]
    with pytest.raises(app.Unavailable, match="not confirmed by the synchronous standby"):
        items.put("k", "v")
    fake.notices = ["some other warning"]
    items.put("k", "v")  # other notices change nothing


def test_a_new_connection_that_fails_is_not_retried_and_answers_503(app: Any, db: tuple[Any, FakeDb]) -> None:
    items, fake = db
    fake.connect = lambda url, **kw: (_ for _ in ()).throw(fake.psycopg.OperationalError("refused"))  # type: ignore[method-assign]
    fake.psycopg.connect = fake.connect
    with pytest.raises(app.Unavailable, match="database: OperationalError: refused"):
        items.put("k", "v")


def test_the_pool_lends_the_last_connection_returned_first(app: Any) -> None:
    fake = FakeDb()
    pool = app.Connections(fake.psycopg, "postgresql://x", size=4)
    taken = [pool.take()[0] for _ in range(3)]
    for conn in taken:
        pool.give_back(conn)
    assert pool.take() == (taken[-1], True)  # warm connections stay busy, cold ones idle


def test_the_pool_opens_no_more_than_its_size_and_a_request_waits_then_answers_503(
        app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDb()
    monkeypatch.setattr(app.Connections, "WAIT_S", 0.05)
    pool = app.Connections(fake.psycopg, "postgresql://x", size=2)
    first, _ = pool.take()
    pool.take()
    with pytest.raises(app.Unavailable, match="no free connection"):
        pool.take()
    pool.give_back(first)
    assert pool.take() == (first, True)
    assert len(fake.opened) == 2


def test_failed_connections_free_their_slots(app: Any, db: tuple[Any, FakeDb],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    items, fake = db
    monkeypatch.setattr(app.Connections, "WAIT_S", 0.05)
    fake.everything_broken = True
    for n in range(40):  # more failed connections than the pool has slots
        with pytest.raises(app.Unavailable, match="OperationalError"):
            items.put(f"k{n}", "v")
    fake.everything_broken = False
    items.put("k", "v")


def test_small_objects_go_up_in_one_request(app: Any) -> None:
    calls: list[str] = []
    objects = object.__new__(app.Objects)
    objects.client = types.SimpleNamespace(put_object=lambda **kw: calls.append("put_object"),
                                           upload_fileobj=lambda *a, **kw: calls.append("upload_fileobj"))
    objects.transfer = None
    objects.put("small", b"x" * 1024)
    objects.put("large", b"x" * app.PART_SIZE)
    assert calls == ["put_object", "upload_fileobj"]


def test_the_server_queues_a_burst_of_connections(app: Any) -> None:
    assert app.Server.request_queue_size >= 1024


def test_an_s3_call_whose_connection_was_closed_unanswered_is_made_once_more(app: Any) -> None:
    """The S3 endpoint's reload closes idle kept-alive connections: a call sent at that instant was
    never read. It goes again once; a timeout or a second close is the answer (503)."""
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

    failures: list[Exception] = []

    def get_object(**kw: Any) -> dict[str, Any]:
        if failures:
            raise failures.pop(0)
        return {"Body": types.SimpleNamespace(read=lambda: b"data")}

    objects = object.__new__(app.Objects)
    objects.client = types.SimpleNamespace(get_object=get_object, exceptions=types.SimpleNamespace(NoSuchKey=KeyError))
    failures += [ConnectionClosedError(endpoint_url="http://lb:9000")]
    assert objects.get("k") == b"data"
    failures += [ConnectionClosedError(endpoint_url="http://lb:9000")] * 2
    with pytest.raises(app.Unavailable, match="ConnectionClosedError"):
        objects.get("k")
    failures[:] = [ReadTimeoutError(endpoint_url="http://lb:9000"), "never reached"]  # type: ignore[list-item]
    with pytest.raises(app.Unavailable, match="ReadTimeoutError"):
        objects.get("k")
    assert failures == ["never reached"]
