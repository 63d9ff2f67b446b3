from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pytest_azchaos.errors import ConfigError
from pytest_azchaos.traffic import FAILED, OK, UNKNOWN, Request, Traffic


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        status = 200
        if self.path == "/fail":
            status = 503
        elif self.path == "/hang":
            time.sleep(2)
        elif self.path.startswith("/slow/0"):
            time.sleep(0.3)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def run(url: str, seconds: float, **kw: object) -> list:  # type: ignore[type-arg]
    with Traffic(url, **kw) as traffic:  # type: ignore[arg-type]
        time.sleep(seconds)
    return traffic.history.operations


def test_open_loop_rate(server: str) -> None:
    ops = run(server, 0.5, rate_per_s=100)
    assert 35 <= len(ops) <= 65
    assert {op.outcome for op in ops} == {OK}
    gaps = [b.scheduled - a.scheduled for a, b in itertools.pairwise(ops)]
    assert all(abs(gap - 0.01) < 1e-6 for gap in gaps), "operations are scheduled at a fixed rate"


def test_server_errors_are_failed(server: str) -> None:
    ops = run(server, 0.2, rate_per_s=50, workload=[Request("read", "GET", "/fail")])
    assert ops and {(op.outcome, op.error, op.status) for op in ops} == {(FAILED, "HTTP 503", 503)}


def test_latency_is_measured_from_the_scheduled_time(server: str) -> None:
    ops = run(server, 0.3, rate_per_s=50, workload=[Request("read", "GET", "/slow/{n}")])
    assert ops[0].latency >= 0.3
    assert ops[0].start - ops[0].scheduled < 0.05


def test_a_timeout_after_sending_is_unknown(server: str) -> None:
    ops = run(server, 0.1, rate_per_s=20, timeout_s=0.2, workload=[Request("read", "GET", "/hang")])
    assert ops and {op.outcome for op in ops} == {UNKNOWN}


def test_a_refused_connection_is_failed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ops = run(f"http://127.0.0.1:{port}", 0.1, rate_per_s=20)
    assert ops and {op.outcome for op in ops} == {FAILED}


def test_write_keys_are_kept_only_when_acknowledged(server: str) -> None:
    ok = run(server, 0.1, rate_per_s=20, workload=[Request("write", "GET", "/", key="k{n}")])
    assert [op.key for op in ok][:2] == ["k0", "k1"]
    failed = run(server, 0.1, rate_per_s=20, workload=[Request("write", "GET", "/fail", key="k{n}")])
    assert {op.key for op in failed} == {None}


@pytest.mark.parametrize("url", ["http://10.0.0.1", "http://example.com", "https://127.0.0.1"])
def test_only_loopback_is_a_target(url: str) -> None:
    with pytest.raises(ConfigError, match="only to 127.0.0.1"):
        Traffic(url)


def test_bad_rate_and_workload() -> None:
    with pytest.raises(ConfigError, match="rate_per_s must be > 0"):
        Traffic("http://127.0.0.1:1", rate_per_s=0)
    with pytest.raises(ConfigError, match="at least one request kind"):
        Traffic("http://127.0.0.1:1", workload=[])
