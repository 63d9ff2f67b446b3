from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from pytest_azchaos.checks import failed_requests
from pytest_azchaos.client import digest
from pytest_azchaos.errors import ConfigError
from pytest_azchaos.history import History
from pytest_azchaos.timeline import Timeline
from pytest_azchaos.traffic import (
    FAILED,
    OK,
    READ,
    UNKNOWN,
    WRITE,
    Call,
    Operation,
    Request,
    Traffic,
    schedule,
    weighted_turns,
)
from tests.local_server import LocalServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    store: dict[str, bytes] = {}

    def do_PUT(self) -> None:
        self.seen.append(self.path)
        self.store[self.path] = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if self.path.startswith("/kv/"):
            found = self.store.get(self.path)
            self.send_response(200 if found is not None else 404)
            self.send_header("Content-Length", str(len(found or b"")))
            self.end_headers()
            self.wfile.write(found or b"")
            return
        status = 503 if self.path == "/fail" else 200
        if self.path == "/slow/0":
            time.sleep(0.3)
        if self.path == "/stall":
            time.sleep(0.2)
        body = b'{"error": "database: gone", "replica": "a-1"}' if status == 503 else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    Handler.seen = []
    Handler.store = {}
    httpd = LocalServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def run(url: str, seconds: float, *, least: int = 1, **kw: object) -> list[Operation]:
    """Run traffic for ``seconds``, and on until at least ``least`` operations are recorded: a busy
    host can start fewer than the rate promises in a short run (2 of 6 at load 11), and a test that
    looks at the first few would fail for that alone."""
    with Traffic(url, **kw) as traffic:  # type: ignore[arg-type]
        time.sleep(seconds)
        deadline = time.monotonic() + 30
        while len(traffic.history.operations) < least and time.monotonic() < deadline:
            time.sleep(0.01)
    return traffic.history.operations


def test_open_loop_rate(server: str) -> None:
    ops = run(server, 0.5, rate_per_s=100)
    assert 35 <= len(ops) <= 65
    assert {(op.outcome, op.status, op.error) for op in ops} == {(OK, 200, None)}
    gaps = [b.scheduled - a.scheduled for a, b in itertools.pairwise(ops)]
    assert all(abs(gap - 0.01) < 1e-6 for gap in gaps), "operations are scheduled at a fixed rate"
    assert len(Handler.seen) == len(ops)


def test_workload_kinds_take_turns(server: str) -> None:
    ops = run(server, 0.2, least=4, rate_per_s=50,
              workload=[Request("read", path="/r/{n}"), Request("write", path="/w/{n}")])
    assert [op.kind for op in ops][:4] == ["read", "write", "read", "write"]
    assert {"/r/0", "/w/1", "/r/2"} <= set(Handler.seen)


def test_server_errors_are_failed(server: str) -> None:
    ops = run(server, 0.2, rate_per_s=50, workload=[Request("read", "GET", "/fail")])
    assert ops and {(op.outcome, op.error, op.status) for op in ops} == {(FAILED, "HTTP 503", 503)}
    assert {op.detail for op in ops} == {"database: gone"}, "the server's own words are kept for the report"


def test_latency_is_measured_from_the_scheduled_time(server: str) -> None:
    ops = run(server, 0.3, least=2, rate_per_s=50, workload=[Request("read", "GET", "/slow/{n}")])
    assert ops[0].latency >= 0.3
    # Open loop: the next operation did not wait for the slow one. Said as an order of events, not
    # as a time limit, so that it holds on a loaded host too (a limit of 50 ms failed at load 9.5).
    assert ops[1].start < ops[0].end and ops[1].end < ops[0].end


def test_a_stalled_server_does_not_hold_back_the_next_operations(server: str) -> None:
    """Open loop: while every answer takes 0.2 s, operations still start on schedule (new threads)."""
    ops = run(server, 0.3, least=25, rate_per_s=100, workload=[Request("read", "GET", "/stall")])
    assert len(ops) >= 25 and {op.outcome for op in ops} == {OK}
    # Many were in flight at once: none waited for an earlier one to finish. Counted from the
    # operations' own start and end, not from a limit on their lag, which a loaded host can break.
    assert _most_in_flight(ops) >= 10, "operations waited for earlier ones to finish"
    assert min(op.latency for op in ops) >= 0.2


def test_no_answer_after_sending_is_unknown() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        ops = run(f"http://127.0.0.1:{silent.getsockname()[1]}", 0.1, rate_per_s=20, timeout_s=0.2)
    assert ops and {(op.outcome, op.error) for op in ops} == {(UNKNOWN, "ReadTimeout")}
    assert all(op.end - op.start >= 0.2 for op in ops)


def test_a_refused_connection_is_failed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ops = run(f"http://127.0.0.1:{port}", 0.1, rate_per_s=20)
    assert ops and {(op.outcome, op.error) for op in ops} == {(FAILED, "ConnectionRefusedError")}


def test_write_keys_are_kept_only_when_acknowledged(server: str) -> None:
    ok = run(server, 0.1, least=2, rate_per_s=20, workload=[Request("write", "GET", "/", key="k{n}")])
    assert [op.key for op in ok][:2] == ["k0", "k1"]
    failed = run(server, 0.1, rate_per_s=20, workload=[Request("write", "GET", "/fail", key="k{n}")])
    assert failed and {op.key for op in failed} == {None}
    refused = run(server, 0.1, rate_per_s=20, workload=[Request("write", "GET", "/kv/none{n}", key="k{n}")])
    assert refused and {(op.outcome, op.status, op.key) for op in refused} == {(OK, 404, None)}  # answered, not stored


def test_request_format() -> None:
    request = Request("write", "PUT", "/kv/{n}", body="v{n}", key="k{n}").format(7)
    assert request == Request("write", "PUT", "/kv/7", "v7", "k7")
    assert Request("read").format(3) == Request("read", "GET", "/")


@pytest.mark.parametrize("url", ["http://10.0.0.1", "http://example.com", "https://127.0.0.1", "ftp://localhost"])
def test_only_loopback_is_a_target(url: str) -> None:
    with pytest.raises(ConfigError, match="only to 127.0.0.1"):
        Traffic(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:80/", "http://[::1]:80"])
def test_loopback_urls_are_accepted(url: str) -> None:
    traffic = Traffic(url)  # a refused URL raises ConfigError here
    traffic.stop()
    assert traffic.base_url == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://127.0.0.1@10.0.0.1", "http://localhost.example", "http://127.example"])
def test_loopback_check_is_not_a_prefix_match(url: str) -> None:
    with pytest.raises(ConfigError, match="only to 127.0.0.1"):
        Traffic(url).stop()  # stop() only if it was wrongly accepted: nothing was started


def test_bad_rate_and_workload() -> None:
    for rate in (0, -5):
        with pytest.raises(ConfigError, match="rate_per_s must be a number > 0"):
            Traffic("http://127.0.0.1:1", rate_per_s=rate)
    with pytest.raises(ConfigError, match="max_in_flight must be a whole number >= 1, found 0"):
        Traffic("http://127.0.0.1:1", max_in_flight=0)
    with pytest.raises(ConfigError, match="at least one operation kind"):
        Traffic("http://127.0.0.1:1", workload=[])
    with pytest.raises(ConfigError, match="'read': the weight must be > 0, found 0"):
        Traffic("http://127.0.0.1:1", workload=[Request("read", weight=0)])
    with pytest.raises(ConfigError, match="'get' reads 'put', which is not a write kind of this workload"):
        Traffic("http://127.0.0.1:1", workload=[Request("get", path="/{key}", reads="put")])
    with pytest.raises(ConfigError, match="a workload holds Request and Call kinds"):
        Traffic("http://127.0.0.1:1", workload=["GET /"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="ramp: expected a duration"):
        Traffic("http://127.0.0.1:1", ramp_from_per_s=1, ramp="-1s")


def test_weighted_turns_keep_exact_proportions_interleaved() -> None:
    turns = list(itertools.islice(weighted_turns([5, 2, 1]), 16))
    assert [turns.count(i) for i in range(3)] == [10, 4, 2]
    assert turns[:8] == [0, 1, 0, 0, 2, 0, 1, 0]  # smooth: never a long run of one kind
    assert list(itertools.islice(weighted_turns([1, 1]), 4)) == [0, 1, 0, 1]


def test_schedule_ramps_linearly_then_holds_the_rate() -> None:
    assert list(itertools.islice(schedule(4), 3)) == [0.0, 0.25, 0.5]
    ramped = list(itertools.takewhile(lambda t: t < 20, schedule(100, ramp_from_per_s=10, ramp_s=10)))
    first_second = sum(t < 1 for t in ramped)
    last_second = sum(19 <= t < 20 for t in ramped)
    assert 10 <= first_second <= 16 and 99 <= last_second <= 101
    assert 540 <= sum(t < 10 for t in ramped) <= 580  # the ramp's mean rate is 55/s


def test_reads_follow_the_latest_acknowledged_write_and_record_digests(server: str) -> None:
    workload = [Request("put", "PUT", "/kv/{n}", body="v{n}", key="/kv/{n}"),
                Request("get", "GET", "{key}", reads="put")]
    ops = run(server, 0.3, rate_per_s=40, workload=workload)
    puts = [op for op in ops if op.kind == "put"]
    gets = [op for op in ops if op.kind == "get" and op.key is not None]
    assert puts[0].action == WRITE and puts[0].value == digest("v0") and puts[0].key == "/kv/0"
    assert gets and all(op.action == READ for op in gets)
    assert all(op.value == digest(f"v{op.key.rsplit('/', 1)[1]}") for op in gets if op.key)  # type: ignore[union-attr]


def test_generated_bodies_have_the_requested_size(server: str) -> None:
    ops = run(server, 0.1, rate_per_s=20, workload=[Request("obj", "PUT", "/kv/o{n}", key="o{n}", size=100_000)])
    assert ops and len(Handler.store["/kv/o0"]) == 100_000
    assert ops[0].value == digest(Handler.store["/kv/o0"])


def test_python_callables_are_operations() -> None:
    def act(n: int) -> str | None:
        if n % 3 == 1:
            raise RuntimeError("boom")
        if n % 3 == 2:
            raise TimeoutError("no answer")
        return f"key{n}"

    ops = run("http://127.0.0.1:1", 0.2, least=3, rate_per_s=30, workload=[Call("custom", act, write=True)])
    assert [(op.outcome, op.error, op.key) for op in ops[:3]] == [
        (OK, None, "key0"), (FAILED, "RuntimeError", None), (UNKNOWN, "TimeoutError", None)]
    assert {op.action for op in ops} == {WRITE}


def test_starting_twice_schedules_once(server: str) -> None:
    traffic = Traffic(server, rate_per_s=50).start()
    with traffic:  # what `with azchaos.traffic(...)` does: the experiment started it already
        deadline = time.monotonic() + 10
        while len(traffic.history.operations) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
    # One schedule at 50/s spaces the operations 20 ms apart in scheduled time, however late a busy
    # host sends them (a count per wall-clock window failed on one); two schedules interleave.
    scheduled = sorted(op.scheduled for op in traffic.history.operations)
    assert len(scheduled) >= 6, "too few operations to tell"
    closest = min(b - a for a, b in itertools.pairwise(scheduled))
    assert closest > 0.015, f"two operations scheduled {closest * 1000:.1f} ms apart at 50/s: scheduled twice?"


class Hangup(BaseHTTPRequestHandler):
    """Closes the connection without an answer the first time, like an LB reload racing a request."""

    protocol_version = "HTTP/1.1"
    hung_up = False

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.answer()

    def answer(self) -> None:
        if not Hangup.hung_up:
            Hangup.hung_up = True
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.mark.parametrize(("method", "outcome"), [("GET", OK), ("POST", UNKNOWN)])
def test_an_idempotent_request_is_resent_once_after_a_silent_close(method: str, outcome: str) -> None:
    Hangup.hung_up = False
    httpd = LocalServer(("127.0.0.1", 0), Hangup)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        ops = run(f"http://127.0.0.1:{httpd.server_address[1]}", 0.05, rate_per_s=20,
                  workload=[Request("op", method, "/", body="x")])
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert ops[0].outcome == outcome  # a POST may have been processed: it is never resent


def _most_in_flight(ops: list[Operation]) -> int:
    """The most operations that were under way at the same moment."""
    edges = sorted([(op.start, 1) for op in ops] + [(op.end, -1) for op in ops], key=lambda e: (e[0], e[1]))
    return max(itertools.accumulate(step for _, step in edges))


class CutShort(BaseHTTPRequestHandler):
    """Promises 100 bytes and closes after 10, like an LB whose upstream died mid-answer."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"x" * 10)
        self.close_connection = True


def test_an_answer_cut_short_is_recorded_with_what_the_client_saw() -> None:
    httpd = LocalServer(("127.0.0.1", 0), CutShort)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        ops = run(f"http://127.0.0.1:{httpd.server_address[1]}", 0.05, rate_per_s=20,
                  workload=[Request("op", "GET", "/")])
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert (ops[0].outcome, ops[0].error) == (UNKNOWN, "ProtocolError")
    # The class alone did not tell a close mid-answer from one before it (scenario 7, session 22).
    assert ops[0].detail == "the connection closed after 10 of 100 bytes of the answer"
    result = failed_requests(History(ops), Timeline(), 0)
    assert "most often: 'the connection closed after 10 of 100 bytes of the answer'" in result.message
