"""A MinIO node restarts while uploads flow through the S3 endpoint, for real: no client sees it.

S3 never shows a client one of its nodes going down. MinIO stopped with SIGTERM cancels the
requests under way: an upload got 499 "Client disconnected" or hung, and a key whose upload held
its lock hung on every node for up to two minutes. So a graceful stop or restart of a MinIO node
first takes it out of the S3 endpoint and lets the requests under way finish (Stack.drain); it
rejoins once ready. Before, uploads failed at the restart: 502, in 3 runs of 3 beside package
installs (one attempt per upload), or a read timeout (1 upload in 1,860 on an idle machine, with
the example app's two attempts).

The client makes two attempts per upload, as the example app's boto3 does, and every attempt is
looked at: no attempt may get a 5xx or time out, and no upload may fail. A first attempt whose
connection closed before an answer is allowed: taking the node out and back reloads nginx, which
closes idle client connections, and a request sent as one closes is lost on any HTTP/1.1 server
(SDKs resend it, as the second attempt does).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import boto3
from botocore.config import Config

from pytest_azchaos import InstanceFault, Stack
from pytest_azchaos.stack.roles.lb import ERROR_LOG

THREADS = 4  # uploading at once: more uploads meet the node's few seconds of shutdown and start
AFTER_S = 3.0  # of uploads after the node is ready again


def test_uploads_through_the_s3_endpoint_survive_a_node_restart(stack: Stack) -> None:
    s3 = stack.endpoints()["s3"]
    node = stack.members(service="s3", az="b")[0]
    stop = threading.Event()
    lock = threading.Lock()
    puts: list[float] = []
    failed: list[str] = []
    answered_5xx: list[str] = []  # attempts the endpoint answered with a server error
    closed: list[str] = []  # attempts whose connection closed before an answer (a reload)
    started = time.monotonic()

    def attempt_seen(response: Any = None, caught_exception: Exception | None = None, **_: Any) -> None:
        at = f"+{time.monotonic() - started:.1f} s"
        with lock:
            if response is not None and response[0].status_code >= 500:
                error = response[1].get("Error", {})
                answered_5xx.append(f"{at}: HTTP {response[0].status_code} {error.get('Code', '')}")
            elif caught_exception is not None:
                closed.append(f"{at}: {type(caught_exception).__name__}")

    def upload() -> None:
        client = boto3.client("s3", endpoint_url=s3["url"], aws_access_key_id=s3["access_key"],
                              aws_secret_access_key=s3["secret_key"], region_name=s3["region"],
                              config=Config(connect_timeout=2, read_timeout=20,
                                            retries={"total_max_attempts": 2, "mode": "standard"}))
        client.meta.events.register("needs-retry.s3.PutObject", attempt_seen)
        while not stop.is_set():
            at = time.monotonic() - started
            try:
                client.put_object(Bucket=s3["bucket"], Key=f"restart-{uuid.uuid4().hex}", Body=b"x" * 65536)
            except Exception as exc:
                with lock:
                    failed.append(f"+{at:.1f} s: {exc}")
            with lock:
                puts.append(at)

    uploaders = [threading.Thread(target=upload) for _ in range(THREADS)]
    for thread in uploaders:
        thread.start()
    try:
        time.sleep(1.0)  # uploads flow before the restart
        restart = InstanceFault(node.alias, "restart")
        restarted_at = time.monotonic() - started
        restart.inject(stack)  # takes the node out of the endpoint, lets its requests finish, restarts it
        restart.heal(stack)  # waits until the node is ready again
        ready_at = time.monotonic() - started
        time.sleep(AFTER_S)
    finally:
        stop.set()
        for thread in uploaders:
            thread.join()
    during = [at for at in puts if restarted_at <= at <= ready_at]
    print(f"restart at +{restarted_at:.1f} s, {node.alias} ready at +{ready_at:.1f} s; {len(puts)} uploads, "
          f"{len(during)} of them while it restarted; {len(failed)} failed; attempts answered 5xx: "
          f"{len(answered_5xx)}; closed or timed out: {closed}")
    if failed or answered_5xx or any("Timeout" in what for what in closed):
        # What the endpoint saw of its nodes, to tell the endpoint's doing from a node's.
        lb = stack.members(role="lb")[0]
        _, log = stack.backend.exec(lb.container, ["cat", ERROR_LOG])
        print("\n".join(line for line in log.splitlines() if ":9000" in line))
    assert not answered_5xx, f"the S3 endpoint answered uploads 5xx while {node.alias} restarted: {answered_5xx[:3]}"
    assert not failed, f"uploads through the S3 endpoint failed while {node.alias} restarted: {failed[:3]}"
    assert not [what for what in closed if "Timeout" in what], \
        f"uploads through the S3 endpoint waited out the client's 20 s while {node.alias} restarted: {closed}"
    assert len(during) >= THREADS, "too few uploads met the restart: nothing was checked"
