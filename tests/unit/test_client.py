"""The generator's HTTP/1.1 client against canned answers from a raw socket."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from pytest_azchaos.client import Client, NotSent, ProtocolError, RemoteDisconnected, tried

RESET = b"<reset>"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def _reset(conn: socket.socket, first: bytes) -> None:
    """Send ``first`` (if any), and then close ``conn`` with a TCP reset, not a FIN."""
    if first:
        conn.sendall(first)
        time.sleep(0.2)  # it reaches the client before the reset
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


@pytest.fixture
def canned() -> Iterator[tuple[str, list[bytes], list[bytes]]]:
    """A server that answers each connection's requests with the next canned answers; records requests.
    An answer that ends in RESET is sent up to there, and then the connection is reset (not closed)."""
    answers: list[bytes] = []
    requests: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                while answers:
                    data = conn.recv(65536)
                    if not data:
                        break
                    requests.append(data)
                    answer = answers.pop(0)
                    if answer.endswith(RESET):
                        _reset(conn, answer.removesuffix(RESET))
                        break
                    if answer:
                        conn.sendall(answer)
                    if not answer or b"Connection: close" in answer or answer.startswith(b"HTTP/1.0"):
                        break

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", answers, requests
    listener.close()


def test_a_request_is_one_plain_http11_message(canned: tuple[str, list[bytes], list[bytes]]) -> None:
    url, answers, requests = canned
    answers += [b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\": \"b\"}\n"]
    with Client(url, timeout_s=2) as client:
        answer = client.send("PUT", "/items/a b", b"xyz")
    assert (answer.status, answer.json()) == (201, {"a": "b"})
    head = requests[0].split(b"\r\n")
    assert head[0] == b"PUT /items/a%20b HTTP/1.1"
    assert b"Content-Length: 3" in head and requests[0].endswith(b"\r\n\r\nxyz")


def test_answers_are_read_by_length_chunks_or_to_the_close(canned: tuple[str, list[bytes], list[bytes]]) -> None:
    url, answers, _ = canned
    answers += [
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
    ]
    with Client(url, timeout_s=2) as client:
        assert client.send("GET", "/").body == b"abcde"
        assert client.send("GET", "/").body == b""
        assert client.send("GET", "/").body == b"until the end"


def test_a_malformed_or_cut_answer_is_a_protocol_error(canned: tuple[str, list[bytes], list[bytes]]) -> None:
    url, answers, _ = canned
    answers += [b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nshort"]
    with Client(url, timeout_s=2) as client:
        with pytest.raises(ProtocolError, match="not an HTTP answer") as malformed:
            client.send("GET", "/")
        with pytest.raises(ProtocolError, match="after 5 of 10 bytes") as cut:
            client.send("GET", "/")
    assert (malformed.value.got, cut.value.got, cut.value.expected) == (None, 5, 10)


def test_a_silent_close_is_resent_only_when_idempotent(canned: tuple[str, list[bytes], list[bytes]]) -> None:
    url, answers, requests = canned
    answers += [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]
    with Client(url, timeout_s=2) as client:
        assert client.send("GET", "/").status == 200 and len(requests) == 2
    answers += [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]
    with Client(url, timeout_s=2) as client, pytest.raises(RemoteDisconnected):
        client.send("POST", "/", b"x")


def test_no_connection_is_not_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}", timeout_s=1) as client, pytest.raises(NotSent) as caught:
        client.send("GET", "/")
    assert caught.value.error == "ConnectionRefusedError"


def test_the_lbs_upstream_header_is_kept_and_named(canned: tuple[str, list[bytes], list[bytes]]) -> None:
    url, answers, _ = canned
    answers += [b"HTTP/1.1 502 Bad Gateway\r\nX-Azchaos-Upstream: 10.0.0.5:80, 10.0.0.6:80\r\n"
                b"Content-Length: 0\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]
    with Client(url, timeout_s=2) as client:
        bad, good = client.send("GET", "/a"), client.send("GET", "/b")
    assert bad.upstream == "10.0.0.5:80, 10.0.0.6:80" and good.upstream == ""
    names = {"10.0.0.5:80": "app-a-1", "10.0.0.6:80": "app-b-1"}
    assert tried(bad.upstream, names) == "app-a-1 > app-b-1"
    assert tried("10.0.0.5:80 : 10.0.0.9:80", names) == "app-a-1 > 10.0.0.9:80"  # unknown stays an address
    assert tried("", names) is None and tried("-", names) is None


def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    """An LB reload closes idle kept-alive connections: the next request, a POST too, goes on a new one."""
    listener = socket.create_server(("127.0.0.1", 0))
    closed = threading.Event()
    seen: list[bytes] = []

    def serve() -> None:
        for number in range(2):
            conn, _ = listener.accept()
            with conn:
                seen.append(conn.recv(65536))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                if number == 0:
                    conn.shutdown(socket.SHUT_RDWR)  # closes it while the client keeps it for later
                    closed.set()
                else:
                    conn.recv(1)  # the client closes it at the end

    threading.Thread(target=serve, daemon=True).start()
    with Client(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout_s=2) as client:
        assert client.send("POST", "/", b"one").status == 200
        assert closed.wait(2)
        time.sleep(0.05)  # the close reaches the client's socket
        assert client.send("POST", "/", b"two").status == 200
    listener.close()
    assert [request.endswith(body) for request, body in zip(seen, (b"one", b"two"), strict=True)] == [True, True]


def test_a_reset_kept_alive_connection_is_resent_only_when_idempotent(
        canned: tuple[str, list[bytes], list[bytes]]) -> None:
    """The keep-alive race ended by a reset rather than a close: the server never answered, so a GET goes
    again on a new connection, as browsers do; a POST may have been done, so its failure stands."""
    url, answers, requests = canned
    answers += [OK, RESET, OK]
    with Client(url, timeout_s=2) as client:
        assert [client.send("GET", "/a").status, client.send("GET", "/b").status] == [200, 200]
    assert [request.split(b" ")[1] for request in requests] == [b"/a", b"/b", b"/b"]
    answers += [OK, RESET, OK]
    with Client(url, timeout_s=2) as client:
        client.send("GET", "/c")
        with pytest.raises(ConnectionResetError):
            client.send("POST", "/d", b"x")
    assert len(requests) == 5 and requests[-1].startswith(b"POST /d")


def test_a_reset_on_a_new_connection_or_inside_an_answer_is_raised(
        canned: tuple[str, list[bytes], list[bytes]]) -> None:
    """No race there: the server chose to reset, and that is the failure a test looks for."""
    url, answers, requests = canned
    answers += [RESET]
    with Client(url, timeout_s=2) as client, pytest.raises(ConnectionResetError):
        client.send("GET", "/new")
    assert len(requests) == 1
    answers += [OK, b"HTTP/1.1 200 OK\r\n" + RESET, OK]
    with Client(url, timeout_s=2) as client:
        client.send("GET", "/a")
        with pytest.raises(ConnectionResetError):
            client.send("GET", "/b")
    assert len(requests) == 3


def test_behind_the_regions_lb_any_request_is_resent_when_a_kept_alive_connection_closes_silently(
        canned: tuple[str, list[bytes], list[bytes]]) -> None:
    """The LB answers for its targets: a kept-alive connection it closes or resets without a word is
    one its reload closed idle, and the request never reached a target. With ``resend_unanswered``
    a POST goes again too; on a new connection the close is no race, and it stands."""
    url, answers, requests = canned
    answers += [OK, b"", OK, OK, RESET, OK]
    with Client(url, timeout_s=2, resend_unanswered=True) as client:
        statuses = [client.send("GET", "/a").status, client.send("POST", "/b", b"x").status]
        statuses += [client.send("GET", "/c").status, client.send("POST", "/d", b"y").status]
    assert statuses == [200] * 4
    assert [request.split(b" ")[1] for request in requests] == [b"/a", b"/b", b"/b", b"/c", b"/d", b"/d"]
    answers += [b"", OK]
    with Client(url, timeout_s=2, resend_unanswered=True) as client, pytest.raises(RemoteDisconnected):
        client.send("POST", "/new", b"z")
    assert len(requests) == 7
