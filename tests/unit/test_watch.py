"""The health watch turns changes between two looks at the stack into timeline events."""

from __future__ import annotations

from typing import Any

from pytest_azchaos.stack import Fact, Measured
from pytest_azchaos.timeline import FAILOVER, Timeline
from pytest_azchaos.watch import HealthWatch


class OneLook:
    """A stack with one look, which sees ``facts``."""

    def __init__(self, facts: dict[str, Fact]) -> None:
        self.facts = facts

    def looks(self) -> list[Any]:
        return [lambda: dict(self.facts)]

    def upstreams(self) -> dict[str, str]:
        return {}


def watch(first: dict[str, Fact]) -> HealthWatch:
    """A watch started on a stack that looks like ``first``, its background looks stopped at once."""
    w = HealthWatch(OneLook(first), Timeline(), interval_s=3600).start()  # type: ignore[arg-type]
    w.stop()
    return w


def events(w: HealthWatch) -> list[tuple[Any, ...]]:
    return [(e.kind, e.subject, e.detail) for e in w.timeline.events]


def test_only_changes_are_events() -> None:
    w = watch({"target app-a-1": "healthy", "leader db": "db-a-1", "drives s3": "6/6 online"})
    w.update({"target app-a-1": "healthy", "leader db": "db-a-1", "drives s3": "6/6 online"})
    assert events(w) == []
    w.update({"target app-a-1": "unhealthy", "leader db": "db-a-1", "drives s3": "4/6 online"})
    w.update({"target app-a-1": "healthy", "leader db": "db-a-1", "drives s3": "6/6 online"})
    assert events(w) == [("target", "app-a-1", "unhealthy"), ("drives", "s3", "4/6 online"),
                         ("target", "app-a-1", "healthy"), ("drives", "s3", "6/6 online")]


def test_a_failover_names_the_old_and_the_new_leader_across_a_gap_without_one() -> None:
    w = watch({"leader db": "db-a-1"})
    w.update({"leader db": "none"})
    w.update({"leader db": "db-b-1"})
    assert events(w) == [("db-leader", "db", "no leader"), (FAILOVER, "db", "leader db-a-1 -> db-b-1")]


def test_the_same_leader_coming_back_is_no_failover() -> None:
    w = watch({"leader db": "db-a-1"})
    w.update({"leader db": "none"})
    w.update({"leader db": "db-a-1"})
    assert events(w) == [("db-leader", "db", "no leader"), ("db-leader", "db", "leader db-a-1")]


def test_new_members_appear_without_an_event() -> None:
    w = watch({"target app-a-1": "healthy"})
    w.update({"target app-a-1": "healthy", "target app-b-2": "healthy"})
    assert events(w) == []


def test_replication_changes_are_events_but_lag_alone_is_not() -> None:
    w = watch({"replication db/db-b-1": Measured("streaming sync", "lag 0 B"), "sync db": "sync standby db-b-1"})
    start = [("sync", "db", "sync standby db-b-1")]  # the state writes start in, recorded by start()
    w.update({"replication db/db-b-1": Measured("streaming sync", "lag 4096 B"), "sync db": "sync standby db-b-1"})
    assert events(w) == start
    w.update({"replication db/db-b-1": Measured("stopped replica", "lag 81920 B"), "sync db": "no synchronous standby"})
    w.update({"replication db/db-b-1": Measured("streaming sync", "lag 0 B"), "sync db": "sync standby db-b-1"})
    w.update({"replication db/db-b-1": "streaming sync", "sync db": "sync standby db-b-1"})  # the lag unknown
    assert events(w) == [*start, ("replication", "db/db-b-1", "stopped replica, lag 81920 B"),
                         ("sync", "db", "no synchronous standby"),
                         ("replication", "db/db-b-1", "streaming sync, lag 0 B"),
                         ("sync", "db", "sync standby db-b-1")]


def test_replication_facts_name_each_standby_and_the_sync_one(monkeypatch: Any) -> None:
    from pathlib import Path

    from pytest_azchaos.stack import Stack
    from pytest_azchaos.stack.roles import ROLES
    from pytest_azchaos.topology import load

    stack = Stack(load(Path(__file__).resolve().parents[2] / "environments" / "default.yaml"), run_id="t",
                  backend=object())  # type: ignore[arg-type]
    nodes = {"db-a-1": {"role": "leader", "state": "running"},
             "db-b-1": {"role": "replica", "state": "running", "lag": 2048}}
    monkeypatch.setattr(ROLES["db"], "view", lambda s, service: ("db-a-1", nodes, {
        "db-b-1": {"state": "streaming", "sync_state": "async"}}), raising=False)
    w = HealthWatch(stack, Timeline())
    seen = w.snapshot()  # the looks that need the engine (object() here) see nothing
    assert {k: v for k, v in seen.items() if k.startswith(("replication", "sync"))} == {
        "replication db/db-b-1": Measured("streaming async", "lag 2048 B"), "sync db": "no synchronous standby"}
    nodes["db-b-1"]["role"] = "sync_standby"
    assert w.snapshot()["sync db"] == "sync standby db-b-1"


def test_an_asynchronous_db_is_recorded_as_having_no_synchronous_standby(monkeypatch: Any) -> None:
    """Writes an async DB acknowledged and lost must be blamed on replication, not on "nothing"."""
    from pathlib import Path

    from pytest_azchaos.stack import Stack
    from pytest_azchaos.stack.roles import ROLES
    from pytest_azchaos.topology import load

    path = Path(__file__).resolve().parents[2] / "environments" / "default.yaml"
    stack = Stack(load(path), run_id="t", backend=object())  # type: ignore[arg-type]
    monkeypatch.setitem(stack.topology.service("db").options, "synchronous", False)
    monkeypatch.setattr(ROLES["db"], "view", lambda s, service: ("db-a-1", {
        "db-a-1": {"role": "leader", "state": "running"}, "db-b-1": {"role": "replica", "state": "streaming"}},
        {"db-b-1": {"state": "streaming", "sync_state": "async"}}), raising=False)
    assert HealthWatch(stack, Timeline()).snapshot()["sync db"] == "no synchronous standby"


def test_the_db_endpoint_view_comes_from_haproxys_statistics() -> None:
    """The facts of the writer endpoint: the node it sends to, the nodes it marked down."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from pytest_azchaos.stack.model import Member
    from pytest_azchaos.stack.roles.db import endpoint_facts

    csv_rows = ("# pxname,svname,status,weight\nprimary,FRONTEND,OPEN,\nprimary,db-a-1,DOWN,1\n"
                "primary,db-b-1,UP,1\nprimary,BACKEND,UP,1\nread-only,db-a-1,UP,1\n")

    class Stats(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = csv_rows.encode() if self.path == "/stats;csv" else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stats)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    class View:
        def url(self, member: Member, port: int, path: str = "") -> str:
            return f"http://127.0.0.1:{server.server_address[1]}{path}"

    endpoint = Member("db", "db-endpoint", "region", 1, "azchaos-t-db", "db", 5432)
    try:
        assert endpoint_facts(View(), endpoint) == {"endpoint db": "to db-b-1",  # type: ignore[arg-type]
                                                    "marked-down db": "db-a-1"}
        csv_rows = csv_rows.replace("db-b-1,UP", "db-b-1,DOWN")
        assert endpoint_facts(View(), endpoint) == {"endpoint db": "to none",  # type: ignore[arg-type]
                                                    "marked-down db": "db-a-1, db-b-1"}
    finally:
        server.shutdown()


def test_capacity_counts_healthy_replicas_of_those_declared_and_replacements(monkeypatch: Any) -> None:
    from dataclasses import replace
    from pathlib import Path

    from pytest_azchaos.stack import Stack
    from pytest_azchaos.stack.roles import app
    from pytest_azchaos.topology import load

    stack = Stack(load(Path(__file__).resolve().parents[2] / "environments" / "default.yaml"), run_id="t",
                  backend=object())  # type: ignore[arg-type]
    down = {"app-a-1"}
    monkeypatch.setattr(app, "_health", lambda s, members: {
        m: "unhealthy" if m.alias in down else "healthy" for m in members})
    w = HealthWatch(stack, Timeline())
    assert w.snapshot()["capacity app"] == "2/3 healthy"
    lost = next(m for m in stack.members_all if m.alias == "app-a-1")
    stack.members_all.append(replace(lost, az="b", replica=2, alias="app-b-2"))  # as auto scaling does
    assert w.snapshot()["capacity app"] == "3/3 healthy"
    w.start()
    w.stop()
    assert ("capacity", "app", "3/3 healthy") in events(w)  # the state the test starts in


def test_states_are_the_latest_facts_as_text() -> None:
    w = watch({"leader db": "db-a-1", "replication db/db-b-1": Measured("streaming sync", "lag 0 B")})
    w.update({"leader db": "db-b-1", "replication db/db-b-1": Measured("streaming sync", "lag 8 B")})
    assert w.states() == {"leader db": "db-b-1", "replication db/db-b-1": "streaming sync, lag 8 B"}
