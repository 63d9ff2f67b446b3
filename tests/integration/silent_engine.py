"""A real Docker engine that stops answering on demand, as dockerd does when its networking deadlocks.

:class:`SilentEngine` is a unix socket passed through, byte for byte, to the engine of this machine.
Once its flag file exists, what clients send is swallowed: every call, on a new connection or one
kept alive, waits out its timeout. Remove the flag and the engine answers again. Written by hand:
no library fakes a hung engine, and the real one must answer everything before the hang.
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import threading
from pathlib import Path
from types import TracebackType

_ENGINE = "unix:///var/run/docker.sock"


def _pipe(source: socket.socket, sink: socket.socket, swallow: Path | None) -> None:
    """Copy ``source`` to ``sink`` until either closes; while ``swallow`` exists, drop what comes."""
    try:
        while chunk := source.recv(65536):
            if swallow is None or not swallow.exists():
                sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


class SilentEngine:
    """``with SilentEngine(folder) as engine:`` set DOCKER_HOST to ``engine.url``; ``engine.hang()``."""

    def __init__(self, folder: Path) -> None:
        engine = os.environ.get("DOCKER_HOST", _ENGINE)
        if not engine.startswith("unix://"):
            raise RuntimeError(f"SilentEngine passes a unix socket through; DOCKER_HOST is {engine}")
        self.engine = engine.removeprefix("unix://")
        self.path = folder / "engine.sock"
        self.flag = folder / "engine-hangs"
        self.url = f"unix://{self.path}"
        target, flag = self.engine, self.flag

        class Through(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                engine_side = socket.socket(socket.AF_UNIX)
                engine_side.connect(target)
                back = threading.Thread(target=_pipe, args=(engine_side, self.request, None), daemon=True)
                back.start()
                _pipe(self.request, engine_side, flag)
                back.join()
                engine_side.close()

        class Server(socketserver.ThreadingUnixStreamServer):
            daemon_threads = True

        self.server = Server(str(self.path), Through)

    def hang(self) -> None:
        self.flag.touch()

    def answer(self) -> None:
        self.flag.unlink(missing_ok=True)

    def __enter__(self) -> SilentEngine:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.answer()
        self.server.shutdown()
        self.server.server_close()
