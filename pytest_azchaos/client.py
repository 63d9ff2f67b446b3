"""The load generator's HTTP/1.1 client: one kept-alive connection per worker thread.

The generator's rate is bounded by the client's CPU per request, all of it under one
GIL, so the client is a small one written for that: it sends a request in one call and
parses the answer's status line and the few headers it needs (length, chunking,
connection, content type) itself. ``requests`` costs about four times as much CPU per
request and ``http.client`` about twice (its headers go through the email parser);
bench/traffic_capacity.py prints the figures. No proxy is looked up and nothing is
decompressed: traffic goes to 127.0.0.1 itself.

Example::

    with Client("http://127.0.0.1:8080", timeout_s=5) as client:
        answer = client.send("GET", "/healthz")
    answer.status, answer.body
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import select
import socket
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO

CONNECT_TIMEOUT_S = 1.0
DETAIL_CHARS = 160
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
MAX_LINE = 65536
UPSTREAM_HEADER = b"x-azchaos-upstream"  # lower case, as the headers are kept
SEND_APART = 65536  # bodies larger than this are not copied behind the head
_UNSAFE_IN_PATH = re.compile(r"[^\x21-\x7e]")


class NotSent(Exception):
    """The request was never sent: no connection could be made (``error`` says why)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class ProtocolError(Exception):
    """The request was sent, but no well-formed answer came back (its fate is unknown).

    For an answer cut short, ``got`` and ``expected`` are the bytes of its body read and announced.
    """

    def __init__(self, message: str, *, got: int | None = None, expected: int | None = None) -> None:
        super().__init__(message)
        self.got = got
        self.expected = expected


class RemoteDisconnected(ProtocolError):
    """The server closed the connection without a word of answer (``reused``: a kept-alive one)."""

    reused = False


class _ResetWhenReused(Exception):
    """A kept-alive connection was reset before a byte of the answer came (``cause`` is the reset)."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def digest(data: bytes | str | None) -> str | None:
    """Return the SHA-256 hex digest of ``data`` (None stays None: nothing there)."""
    if data is None:
        return None
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@dataclass(frozen=True)
class Answer:
    """What the server answered: status, content type and the whole body."""

    status: int
    content_type: str
    body: bytes
    upstream: str = ""  # the LB's X-Azchaos-Upstream: every target it tried, "10.0.0.5:80, 10.0.0.6:80"

    def json(self) -> object:
        """Return the body as JSON, or None when it is not JSON."""
        if "json" not in self.content_type:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def seen(self) -> str | None:
        """Return the digest of what a read saw: the JSON ``value`` of an item, else the body; None if absent."""
        if self.status == 404:
            return None
        found = self.json()
        if isinstance(found, dict) and isinstance(found.get("value"), str):
            return digest(found["value"])
        return digest(self.body)

    def detail(self) -> str | None:
        """Return what a failed answer said, for the report: a JSON ``error`` field, else the start of the body."""
        found = self.json()
        if isinstance(found, dict) and isinstance(found.get("error"), str):
            text = found["error"]
        else:
            text = self.body[: DETAIL_CHARS * 4].decode("utf-8", "replace")
        return " ".join(text.split())[:DETAIL_CHARS] or None


class Client:
    """A kept-alive HTTP/1.1 connection to ``base_url``, for one thread.

    Connecting waits at most CONNECT_TIMEOUT_S; each read of the answer, at most ``timeout_s``.
    """

    def __init__(self, base_url: str, *, timeout_s: float, resend_unanswered: bool = False) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout_s = timeout_s
        self.resend_unanswered = resend_unanswered
        self._host_header = f"Host: {parts.netloc}\r\nUser-Agent: pytest-azchaos\r\nAccept-Encoding: identity\r\n"
        self._sock: socket.socket | None = None
        self._rfile: io.BufferedReader | None = None

    def send(self, method: str, path: str, body: bytes | None = None) -> Answer:
        """Send one request and read the whole answer.

        Raises NotSent when no connection could be made; OSError or ProtocolError when the
        request was (or may have been) sent but no answer came. An idempotent request whose
        connection the server closed without a word is sent again once on a new connection,
        as browsers do (an LB reload closes idle connections, and a request can race that
        close without the server ever seeing it). So is one whose kept-alive connection was
        reset before the first byte of an answer: the same race, ended by a reset. A reset
        on a new connection, or once the answer began, is the server's doing and is raised.

        Any other request is resent only with ``resend_unanswered``, and only on a kept-alive
        connection closed or reset without a word: for a server that answers for whatever it
        passed on, as the region's LB does (a target's failure reaches the client as a 502 or
        504, never as a silent close), such a close is the race above and nothing was done.
        """
        try:
            return self._exchange(method, path, body)
        except RemoteDisconnected as closed:
            if not self._may_resend(method, reused=closed.reused):
                raise
        except _ResetWhenReused as reset:
            if not self._may_resend(method, reused=True):
                raise reset.cause from None
        return self._exchange(method, path, body)

    def _may_resend(self, method: str, *, reused: bool) -> bool:
        return method in IDEMPOTENT or (self.resend_unanswered and reused)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; the next request opens a new one."""
        if self._sock is not None:
            self._sock.close()
        if self._rfile is not None:
            self._rfile.close()
        self._sock = self._rfile = None

    def _exchange(self, method: str, path: str, body: bytes | None) -> Answer:
        if self._sock is not None and _closed_by_server(self._sock):
            self.close()
        reused = self._sock is not None
        if self._sock is None or self._rfile is None:
            self._connect()
        assert self._sock is not None and self._rfile is not None
        head = self._head(method, path, body)
        heard = False  # a byte of the answer, or its close, came back
        try:
            if body is not None and len(body) > SEND_APART:
                self._sock.sendall(head)
                self._sock.sendall(body)
            else:
                self._sock.sendall(head + body if body else head)
            self._rfile.peek(1)  # the answer's first byte, or the close or reset that means none comes
            heard = True
            answer, keep_alive = read_answer(self._rfile, method)
        except (ConnectionResetError, BrokenPipeError) as exc:
            self.close()
            if reused and not heard:
                raise _ResetWhenReused(exc) from exc
            raise
        except RemoteDisconnected as exc:
            self.close()
            exc.reused = reused
            raise
        except BaseException:
            self.close()  # a connection in an unknown state is never reused
            raise
        if not keep_alive:
            self.close()
        return answer

    def _head(self, method: str, path: str, body: bytes | None) -> bytes:
        target = self.prefix + path
        if _UNSAFE_IN_PATH.search(target):
            target = urllib.parse.quote(target, safe="/?&=%:@!$'()*+,;~#[]")
        head = f"{method} {target} HTTP/1.1\r\n{self._host_header}"
        if body is not None or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Length: {len(body or b'')}\r\n"
        return (head + "\r\n").encode("latin-1")

    def _connect(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT_S)
        except TimeoutError as exc:
            raise NotSent("ConnectTimeout") from exc
        except OSError as exc:
            raise NotSent(type(exc).__name__) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.timeout_s)
        self._sock, self._rfile = sock, sock.makefile("rb")


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether a kept-alive connection that waits for our next request was closed by the server.

    Between requests nothing may arrive but the server's close (an LB reload closes its idle
    connections): a connection readable now is done with. Sending on it anyway failed with a broken
    pipe, an upload that the server never saw counted as failed (scenario 7 after a heal, 2 runs
    of 3 beside package installs). urllib3 checks its pooled connections the same way.
    """
    poller = select.poll()  # not select.select: it refuses descriptors above 1023
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def tried(upstream: str, names: Mapping[str, str]) -> str | None:
    """Return the targets an LB tried, by ``names`` (address -> alias): "app-a-1 > app-b-1".

    ``upstream`` is nginx's $upstream_addr, "10.0.0.5:80, 10.0.0.6:80" (" : " between internal
    redirects); an address ``names`` lacks stays as it is. None when the LB tried none.
    """
    if not upstream:
        return None
    addresses = upstream.replace(" : ", ", ").split(", ")
    return " > ".join(names.get(address, address) for address in addresses if address and address != "-") or None


def read_answer(rfile: BinaryIO, method: str) -> tuple[Answer, bool]:
    """Read one HTTP/1.1 answer from ``rfile``: return it and whether the connection stays open."""
    while True:
        status, headers, keep_alive = _read_head(rfile)
        if not 100 <= status < 200:
            break  # an interim answer (100 Continue) is followed by the real one
    if method == "HEAD" or status in (204, 304):
        body = b""
    elif b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        body = _read_chunked(rfile)
    elif b"content-length" in headers:
        body = _read_exactly(rfile, _number(headers[b"content-length"], 10))
    else:
        body, keep_alive = rfile.read(), False  # the body ends where the connection does
    return Answer(status, headers.get(b"content-type", b"").decode("latin-1"), body,
                  headers.get(UPSTREAM_HEADER, b"").decode("latin-1")), keep_alive


def _read_head(rfile: BinaryIO) -> tuple[int, dict[bytes, bytes], bool]:
    line = rfile.readline(MAX_LINE)
    if not line:
        raise RemoteDisconnected("the server closed the connection without an answer")
    version, _, rest = line.partition(b" ")
    if not version.startswith(b"HTTP/"):
        raise ProtocolError(f"not an HTTP answer: {line[:80]!r}")
    status = _number(rest[:3], 10)
    headers: dict[bytes, bytes] = {}
    while True:
        line = rfile.readline(MAX_LINE)
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise ProtocolError("the connection closed in the middle of the answer's headers")
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    connection = headers.get(b"connection", b"").lower()
    keep_alive = b"keep-alive" in connection if version == b"HTTP/1.0" else b"close" not in connection
    return status, headers, keep_alive


def _read_chunked(rfile: BinaryIO) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = _number(rfile.readline(MAX_LINE).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while rfile.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        chunks.append(_read_exactly(rfile, size))
        rfile.readline(MAX_LINE)  # the CRLF after the chunk


def _read_exactly(rfile: BinaryIO, size: int) -> bytes:
    data = rfile.read(size)
    if len(data) < size:
        raise ProtocolError(f"the connection closed after {len(data)} of {size} bytes of the answer",
                            got=len(data), expected=size)
    return data


def _number(text: bytes, base: int) -> int:
    try:
        return int(text, base)
    except ValueError:
        raise ProtocolError(f"malformed answer: {text[:40]!r} is not a number") from None
