"""The nemesis on the default region, for real: links, instances, the three AZ outage modes."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pytest_azchaos import AzOutage, ConfigError, Experiment, InstanceFault, LinkToxic, Stack
from pytest_azchaos.faults.schedule import plan
from pytest_azchaos.stack.model import Member

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def azchaos(stack: Stack) -> Iterator[Experiment]:
    experiment = Experiment(stack)
    yield experiment
    assert experiment.finish() == []
    assert not stack.not_ready(stack.members_all), "the stack is not healthy after the test"


def latencies_by_replica(stack: Stack, n: int = 45) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for _ in range(n):
        t0 = time.monotonic()
        replica = requests.get(stack.lb_url + "/", timeout=5).json()["replica"]
        found.setdefault(replica, []).append(time.monotonic() - t0)
    return found


def app_direct(stack: Stack, alias: str) -> str:
    member = stack.member(alias)
    return stack.url(member, member.port)


def test_latency_on_a_link_shows_in_requests_through_it(stack: Stack, azchaos: Experiment) -> None:
    with azchaos.toxic("a/lb->app-a-1", "latency", latency=200):
        slow = latencies_by_replica(stack)
    through = statistics.median(slow["app-a-1"])
    others = statistics.median(slow["app-b-1"] + slow["app-c-1"])
    assert 0.19 <= through - others <= 0.25, f"app-a-1 {through:.3f} s vs others {others:.3f} s"
    healed = latencies_by_replica(stack)
    assert statistics.median(healed["app-a-1"]) < 0.1


def test_reset_peer_makes_connections_fail_until_healed(stack: Stack, azchaos: Experiment) -> None:
    url = app_direct(stack, "app-a-1") + "/items"
    assert requests.post(url, data="before", timeout=10).status_code == 201
    with azchaos.toxic("a/app->db", "reset_peer", timeout=0):
        assert requests.post(url, data="during", timeout=10).status_code == 503
    deadline = time.monotonic() + 10
    while requests.post(url, data="after", timeout=10).status_code != 201:
        assert time.monotonic() < deadline, "writes through a/app->db did not recover after healing"
        time.sleep(0.2)


def test_cut_link_refuses_and_heals(stack: Stack, azchaos: Experiment) -> None:
    url = app_direct(stack, "app-b-1") + "/items"
    with azchaos.cut("b/app->db"):
        assert requests.post(url, data="x", timeout=10).status_code == 503
    deadline = time.monotonic() + 10
    while requests.post(url, data="y", timeout=10).status_code != 201:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_a_standby_streams_through_the_replication_link_of_its_az(stack: Stack, azchaos: Experiment) -> None:
    """The standby names the leader by the alias of its AZ's replication link (the leader's Patroni
    connect_address), so a toxic on that link reaches replication: with 400 ms on it, a commit,
    which waits until the synchronous standby has flushed its WAL, takes at least 400 ms."""
    import psycopg

    primary, standby = primary_and_standby(stack)
    link = next(k for k in stack.links() if k.name == f"{standby.az}/repl->{primary.alias}")
    code, sender = stack.sql(standby, "SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver")
    assert (code, sender.strip()) == (0, link.address)  # repl-db-a-1:15433, the proxy of its own AZ
    with psycopg.connect(stack.db_dsn(), autocommit=True) as conn:

        def commit() -> float:
            started = time.monotonic()
            conn.execute("INSERT INTO fencing (side) VALUES ('replication link')")
            return time.monotonic() - started

        with azchaos.toxic(link.name, "latency", latency=400):
            slowed = [commit() for _ in range(3)]
    assert min(slowed) >= 0.4, f"commits did not wait for WAL through {link.name}: {slowed}"


def test_freeze_hangs_instead_of_refusing(stack: Stack, azchaos: Experiment) -> None:
    url = app_direct(stack, "app-c-1") + "/healthz"
    with azchaos.outage("c", mode="freeze"):
        assert {stack.backend.state(m.container) for m in stack.members(az="c")} == {"paused"}
        with pytest.raises(requests.ReadTimeout):
            requests.get(url, timeout=(2, 2))
    assert requests.get(url, timeout=2).status_code == 200


def reach(stack: Stack, container: str, host: str, port: int) -> bool:
    probe = f"import socket; socket.create_connection(('{host}', {port}), timeout=2)"
    code, _ = stack.backend.exec(container, ["python3", "-c", probe])
    return code == 0


def test_network_partition_cuts_the_az_off_but_not_within(stack: Stack, azchaos: Experiment) -> None:
    inside = next(m for m in stack.members(az="a", role="app")).container
    with azchaos.outage("a", mode="network"):
        assert {stack.backend.state(m.container) for m in stack.members(az="a")} == {"running"}
        assert reach(stack, inside, "etcd-a-1", 2379), "an AZ-a peer must still answer"
        assert not reach(stack, inside, "etcd-b-1", 2379), "AZ b must be unreachable from AZ a"
        # Kept-alive connections of the LB to AZ a now hang until nginx's 5 s read timeout,
        # then the request is retried elsewhere: slow, but it succeeds.
        served = {requests.get(stack.lb_url + "/", timeout=15).json()["replica"] for _ in range(20)}
        assert "app-a-1" not in served
    assert reach(stack, inside, "etcd-b-1", 2379)
    served = {requests.get(stack.lb_url + "/", timeout=15).json()["replica"] for _ in range(30)}
    assert "app-a-1" in served


def local_write(stack: Stack, member: Member, side: str) -> float | None:
    """Commit one row on ``member`` itself (its own socket, not through the endpoint), with
    synchronous_commit=local so that only being a writable primary matters. Return the node's
    clock at the insert (containers share the host's clock, so both sides compare), None if refused."""
    code, out = stack.sql(member, f"SET synchronous_commit = local; SET statement_timeout = '1s'; INSERT INTO "
                                  f"fencing (side) VALUES ('{side}') RETURNING extract(epoch FROM clock_timestamp())")
    words = out.split()  # psql exited 0 with nothing printed once, mid-failover
    return float(words[-1]) if code == 0 and words else None


class BothSides:
    """A client on the old primary and one on the standby, each committing on its own node every
    0.1 s while in a ``with`` block; ``accepted[side]`` holds the node's clock at each commit."""

    def __init__(self, stack: Stack, old: Member, new: Member) -> None:
        self.accepted: dict[str, list[float]] = {"old": [], "new": []}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, args=(stack, m, side), daemon=True)
                         for m, side in ((old, "old"), (new, "new"))]

    def _write(self, stack: Stack, member: Member, side: str) -> None:
        while not self._stop.is_set():
            at = local_write(stack, member, side)
            if at is not None:
                self.accepted[side].append(at)
            time.sleep(0.1)

    def __enter__(self) -> BothSides:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def wait_for_the_new_primary(self, within_s: float) -> None:
        deadline = time.monotonic() + within_s
        while len(self.accepted["new"]) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)

    def split_brain(self, t0: float, old: Member, new: Member, what: str) -> None:
        """Assert that the new primary took writes, and only once the old one took none."""
        assert self.accepted["new"], f"{new.alias} was not promoted after {what}"
        last_old, first_new = max(self.accepted["old"], default=t0), min(self.accepted["new"])
        print(f"{old.alias} last accepted a write {last_old - t0:+.2f} s after {what}, "
              f"{new.alias} first accepted one {first_new - t0:+.2f} s after it")
        assert last_old < first_new, "split brain: both sides accepted writes at the same time"


def primary_and_standby(stack: Stack) -> tuple[Member, Member]:
    import psycopg

    with psycopg.connect(stack.db_dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS fencing (side text, at timestamptz DEFAULT clock_timestamp())")
    leader = stack.status()["roles"]["db"]["leader"]
    old = stack.member(leader)
    new = next(m for m in stack.members(role="db") if m.alias != leader)
    assert local_write(stack, old, "old") and local_write(stack, new, "new") is None
    return old, new


def test_a_partitioned_primary_is_fenced_before_the_other_side_promotes(stack: Stack, azchaos: Experiment) -> None:
    """No split brain: the primary cut off from etcd's quorum stops accepting writes (Patroni demotes
    it, or its watchdog kills it) before the standby on the other side is promoted; no moment has
    two writable primaries."""
    old, new = primary_and_standby(stack)
    t0 = time.time()
    with azchaos.outage(old.az, mode="network"), BothSides(stack, old, new) as sides:
        sides.wait_for_the_new_primary(within_s=45)
    sides.split_brain(t0, old, new, "the partition")
    azchaos.finish()  # heal, and wait until the old primary is a streaming standby again
    nodes = {n["name"]: n for n in stack.status()["roles"]["db"]["nodes"]}
    assert nodes[old.alias]["state"] == "streaming", "the fenced primary must rejoin as a streaming standby"


def patroni_daemon(stack: Stack, container: str) -> str:
    """The pid of Patroni's HA loop in a DB container (PID 1 is Patroni too, acting as init)."""
    script = ('for d in /proc/[0-9]*; do [ "$(cat $d/comm 2>/dev/null)" = patroni ] && '
              '[ "${d#/proc/}" != 1 ] && echo "${d#/proc/}"; done; true')
    code, out = stack.backend.exec(container, ["sh", "-c", script])
    pids = out.split()
    assert code == 0 and len(pids) == 1, f"Patroni's daemon in {container}: {out!r}"
    return pids[0]


def test_a_primary_whose_patroni_hangs_is_killed_before_its_key_expires(stack: Stack, azchaos: Experiment) -> None:
    """Fencing that does not rely on Patroni's loop: with Patroni stopped on the primary (SIGSTOP,
    as a loop stalled on a starved host), its key is renewed no more and the standby promotes once it
    expires; the node's watchdog kills PostgreSQL first, so no moment has two writable primaries."""
    from pytest_azchaos.faults.restore import ensure_healthy

    old, new = primary_and_standby(stack)
    pid = patroni_daemon(stack, old.container)
    t0 = time.time()
    stack.backend.exec(old.container, ["sh", "-c", f"kill -STOP {pid}"])
    try:
        with BothSides(stack, old, new) as sides:
            sides.wait_for_the_new_primary(within_s=60)
    finally:
        stack.backend.exec(old.container, ["sh", "-c", f"kill -CONT {pid}"])
    sides.split_brain(t0, old, new, "its Patroni stopped")
    assert "killed postgres" in stack.backend.logs(old.container, tail=5000), "the watchdog did not act"
    ensure_healthy(stack)  # the old primary's Patroni starts it again, as a standby
    nodes = {n["name"]: n for n in stack.status()["roles"]["db"]["nodes"]}
    assert nodes[old.alias]["state"] == "streaming", "the fenced primary must rejoin as a streaming standby"


def test_killing_the_primary_wherever_it_is(stack: Stack, azchaos: Experiment) -> None:
    before = stack.status()["roles"]["db"]["leader"]
    with azchaos.instance("db-primary", "kill"):
        deadline = time.monotonic() + 30
        while stack.status()["roles"]["db"]["leader"] in (None, before):
            assert time.monotonic() < deadline, "no new leader within 30 s"
            time.sleep(0.5)
        after = stack.status()["roles"]["db"]["leader"]
        # The watch sees the DB endpoint (HAProxy) follow: it marks the old primary down, then sends to the new one.
        while not any(e.kind == "endpoint" and e.detail == f"to {after}" for e in azchaos.timeline.events):
            assert time.monotonic() < deadline + 30, [(e.kind, e.detail) for e in azchaos.timeline.events]
            time.sleep(0.5)
        assert any(e.kind == "marked-down" and before in e.detail for e in azchaos.timeline.events)
    nodes = {n["name"]: n for n in stack.status()["roles"]["db"]["nodes"]}
    assert nodes[before]["state"] == "streaming", "the old primary must come back as a streaming standby"


def test_a_duration_heals_on_time_and_a_seeded_nemesis_follows_its_plan(stack: Stack, azchaos: Experiment) -> None:
    fault = azchaos.toxic("b/app->db", "latency", latency=100, duration="2s")
    assert fault.wait(30) and fault.error is None
    healed = [e for e in azchaos.timeline.events if e.kind == "heal"]
    injected = azchaos.timeline.first("inject")
    assert injected is not None and len(healed) == 1 and 1.9 <= healed[0].mono - injected.mono <= 3.5
    pool = [AzOutage("c", mode="freeze"), InstanceFault("app-b-1", "pause"),
            LinkToxic("a/app->s3", "latency", (("latency", 50),))]
    with azchaos.random_nemesis(seed=7, duration="12s", min_fault="1s", max_fault="2s", min_pause="1s",
                                max_pause="2s", faults=pool) as nemesis:
        time.sleep(14)
    planned = [step.fault.subject for step in nemesis.steps]
    done = [e.subject for e in azchaos.timeline.events if e.kind == "inject"][1:]
    assert planned and done == planned and not nemesis.errors
    again = plan(pool, seed=7, duration_s=12, fault_s=(1, 2), pause_s=(1, 2))
    assert [(s.offset_s, s.fault, s.duration_s) for s in again] == [
        (s.offset_s, s.fault, s.duration_s) for s in nemesis.steps], "the same seed gives the same plan"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: x.toxic("z/app->db", "latency", latency=1), "unknown link 'z/app->db'"),
        (lambda x: x.toxic("a/app->db", "lag", latency=1), "unknown toxic 'lag'"),
        (lambda x: x.toxic("a/app->db", "latency", latency=-5), "latency must be a whole number >= 0"),
        (lambda x: x.toxic("a/app->db", "latency", rate=5), "toxic latency takes latency, jitter, not 'rate'"),
        (lambda x: x.toxic("a/app->db", "latency", toxicity=2), "toxicity must be between 0 and 1"),
        (lambda x: x.toxic("a/app->db", "latency", direction="sideways"), "direction 'sideways'"),
        (lambda x: x.outage("d"), "unknown AZ 'd'"),
        (lambda x: x.instance("app-z-9"), "unknown target 'app-z-9'"),
        (lambda x: x.instance("app-a-1", "explode"), "instance fault 'explode'"),
        (lambda x: x.wait("-1s"), "wait: expected a duration"),
    ],
)
def test_bad_input_is_refused_before_anything_changes(stack: Stack, azchaos: Experiment, call: object,
                                                      message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        call(azchaos)  # type: ignore[operator]
    # The watch records facts (e.g. the sync standby at the start); no fault event may be there.
    assert [e for e in azchaos.timeline.events if e.kind in ("inject", "heal", "steady", "not-steady")] == []
    assert azchaos.nemesis.active == []
