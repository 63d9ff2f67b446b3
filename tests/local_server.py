"""A local HTTP server for tests that send the load generator's traffic to it."""

from __future__ import annotations

from http.server import ThreadingHTTPServer


class LocalServer(ThreadingHTTPServer):
    """A threading HTTP server that queues a burst of connections, as a real load balancer does.

    Python's default listen backlog is 5, and the generator opens a connection for each new worker
    thread. On a loaded host, where the accept loop waits for a core, a burst overflowed it: the
    kernel dropped the SYNs, the client's connect gave up after its 1 s, and a plugin test saw 70 %
    of its requests fail (a test of ours, not the code under test). nginx listens with 511.
    """

    request_queue_size = 1024
    daemon_threads = True
