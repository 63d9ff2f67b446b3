"""The example application under test: a small HTTP service, one replica per container.

Endpoints:
  GET  /healthz        200 while the replica can serve
  GET  /               which replica and AZ answered
  PUT  /items/KEY      store a value (in this replica's memory, for now)
  GET  /items/KEY      read it back
Configuration comes from the environment: PORT, AZCHAOS_AZ, AZCHAOS_REPLICA.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

AZ = os.environ.get("AZCHAOS_AZ", "?")
REPLICA = os.environ.get("AZCHAOS_REPLICA", "?")
ITEMS: dict[str, str] = {}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass  # one line per request would flood the container log under load

    def reply(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self.reply(200, {"status": "ok", "az": AZ, "replica": REPLICA})
        elif self.path == "/":
            self.reply(200, {"service": "example-app", "az": AZ, "replica": REPLICA})
        elif self.path.startswith("/items/"):
            key = self.path[len("/items/"):]
            with LOCK:
                value = ITEMS.get(key)
            if value is None:
                self.reply(404, {"error": "no such item", "key": key})
            else:
                self.reply(200, {"key": key, "value": value, "replica": REPLICA})
        else:
            self.reply(404, {"error": "not found", "path": self.path})

    def do_PUT(self) -> None:
        if not self.path.startswith("/items/"):
            self.reply(404, {"error": "not found", "path": self.path})
            return
        key = self.path[len("/items/"):]
        length = int(self.headers.get("Content-Length") or 0)
        value = self.rfile.read(length).decode(errors="replace")
        with LOCK:
            ITEMS[key] = value
        self.reply(200, {"key": key, "replica": REPLICA})


def main() -> None:
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler)
    server.daemon_threads = True
    # PID 1 ignores SIGTERM unless it says otherwise; stop promptly like a real service.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"example-app {REPLICA} in AZ {AZ} listening on {server.server_address}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
