"""A stand-in stack for fast plugin tests: a local HTTP server plays the load balancer.

It answers 200 while at least one app replica is "running", 503 once every one
was killed, and (when the environment disables retries) 503 as soon as any
replica is down, naming the first one down in X-Azchaos-Upstream as nginx would.
Real-stack tests of the same behaviour are in tests/integration.
"""

from __future__ import annotations

import pytest

FAKE_CONFTEST = '''
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pytest_azchaos.stack import Stack
from pytest_azchaos.topology import load


class Server(ThreadingHTTPServer):
    request_queue_size = 1024  # a burst of new connections on a loaded host: see tests/local_server.py


class FakeBackend:
    def __init__(self):
        self.down = set()

    def kill(self, names):
        self.down.update(names)

    pause = kill

    def start(self, names):
        self.down.difference_update(names)

    unpause = start

    def state(self, name):
        return "exited" if name in self.down else "running"


class FakeStack(Stack):
    def __init__(self, topo):
        super().__init__(topo, run_id=f"fake-{topo.name}", backend=FakeBackend())  # one per environment, as real
        stack = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                apps = [m.container for m in stack.members(role="app")]
                down = [a for a in apps if a in stack.backend.down]
                retry = stack.topology.service("lb").options["retry"]
                broken = len(down) == len(apps) or (down and not retry)
                self.send_response(503 if broken else 200)
                if down:  # as nginx does: the (fake) address of the target it tried
                    self.send_header("X-Azchaos-Upstream", f"10.0.0.{apps.index(down[0]) + 1}:80")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = Server(("127.0.0.1", 0), Handler)

    def up(self, **kw):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        print("FAKE STACK UP")
        return self

    def down(self):
        self.server.shutdown()
        print("FAKE STACK DOWN")
        return 0

    @property
    def lb_url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_ready(self, members, *, deadline):
        pass

    def not_ready(self, members):
        return [m.alias for m in members if m.container in self.backend.down]

    def url(self, member, port, path=""):  # every member answers through the fake LB
        return self.lb_url + path

    def forget_ports(self, members):
        pass

    def reconfigure(self):
        pass

    def looks(self):  # what the watch sees: each app replica's health, from the fake engine
        apps = self.members(role="app")
        return [lambda: {f"target {m.alias}": "unhealthy" if m.container in self.backend.down else "healthy"
                         for m in apps}]

    def primaries(self):
        return []

    def upstreams(self):
        return {f"10.0.0.{n}:80": m.alias for n, m in enumerate(self.members(role="app"), start=1)}


@pytest.hookimpl
def pytest_azchaos_make_stack(config, env_path):
    return FakeStack(load(env_path))
'''


@pytest.fixture
def fake(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose conftest puts the stand-in stack in place of a real one."""
    pytester.makeconftest(FAKE_CONFTEST)
    return pytester
