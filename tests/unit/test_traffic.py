from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pytest_azchaos.errors import ConfigError
from pytest_azchaos.traffic import FAILED, OK, UNKNOWN, Operation, Request, Traffic


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append(self.path)
        status = 503 if self.path == "/fail" else 200
        if self.path == "/slow/0":
            time.sleep(0.3)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def server() -> Iterator[str]:
    Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def run(url: str, seconds: float, **kw: object) -> list[Operation]:
    with Traffic(url, **kw) as traffic:  # type: ignore[arg-type]
        time.sleep(seconds)
    return traffic.history.operations


def test_open_loop_rate(server: str) -> None:
    ops = run(server, 0.5, rate_per_s=100)
    assert 35 <= len(ops) <= 65
    assert {(op.outcome, op.status, op.error) for op in ops} == {(OK, 200, None)}
    gaps = [b.scheduled - a.scheduled for a, b in itertools.pairwise(ops)]
    assert all(abs(gap - 0.01) < 1e-6 for gap in gaps), "operations are scheduled at a fixed rate"
    assert len(Handler.seen) == len(ops)


def test_workload_kinds_take_turns(server: str) -> None:
    ops = run(server, 0.2, rate_per_s=50, workload=[Request("read", path="/r/{n}"), Request("write", path="/w/{n}")])
    assert [op.kind for op in ops][:4] == ["read", "write", "read", "write"]
    assert {"/r/0", "/w/1", "/r/2"} <= set(Handler.seen)


def test_server_errors_are_failed(server: str) -> None:
    ops = run(server, 0.2, rate_per_s=50, workload=[Request("read", "GET", "/fail")])
    assert ops and {(op.outcome, op.error, op.status) for op in ops} == {(FAILED, "HTTP 503", 503)}


def test_latency_is_measured_from_the_scheduled_time(server: str) -> None:
    ops = run(server, 0.3, rate_per_s=50, workload=[Request("read", "GET", "/slow/{n}")])
    assert ops[0].latency >= 0.3
    assert ops[0].start - ops[0].scheduled < 0.05
    assert ops[1].latency < 0.3


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
    assert ops and {(op.outcome, op.error) for op in ops} == {(FAILED, "ConnectionError")}


def test_write_keys_are_kept_only_when_acknowledged(server: str) -> None:
    ok = run(server, 0.1, rate_per_s=20, workload=[Request("write", "GET", "/", key="k{n}")])
    assert [op.key for op in ok][:2] == ["k0", "k1"]
    failed = run(server, 0.1, rate_per_s=20, workload=[Request("write", "GET", "/fail", key="k{n}")])
    assert failed and {op.key for op in failed} == {None}


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
    Traffic(url).stop()


@pytest.mark.parametrize("url", ["http://127.0.0.1@10.0.0.1", "http://localhost.example", "http://127.example"])
def test_loopback_check_is_not_a_prefix_match(url: str) -> None:
    with pytest.raises(ConfigError, match="only to 127.0.0.1"):
        Traffic(url).stop()  # stop() only if it was wrongly accepted: nothing was started


def test_bad_rate_and_workload() -> None:
    for rate in (0, -5):
        with pytest.raises(ConfigError, match="rate_per_s must be > 0"):
            Traffic("http://127.0.0.1:1", rate_per_s=rate)
    with pytest.raises(ConfigError, match="at least one request kind"):
        Traffic("http://127.0.0.1:1", workload=[])
