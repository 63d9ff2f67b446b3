"""LB reloads under traffic, for real: the stack reloads nginx on every heal, and no answer in
flight may suffer for it (an ALB registering targets cuts no answer).

nginx 1.22 (bookworm's) cut about one answer in 16 reloads here: its old worker exited with a
request in flight (bug #2367) and wrote "open socket ... left in connection". bench/reload_cuts.py
gives the figures; this test holds the region to 0.
"""

from __future__ import annotations

import threading
import time

import docker
import pytest

from pytest_azchaos import Stack
from pytest_azchaos.client import Client

pytestmark = pytest.mark.usefixtures("leaves_nothing_behind")

SIZE = 64 * 1024  # example_app()'s objects: larger than one read of the LB from a target
THREADS = 8
RELOADS = 40


def test_reloads_under_traffic_cut_no_answer(stack: Stack) -> None:
    assert Client(stack.lb_url, timeout_s=10).send("PUT", "/objects/reload-test", b"r" * SIZE).status == 200
    lb = docker.from_env().containers.get(next(m.container for m in stack.members_all if m.role == "lb"))
    since = int(time.time()) - 1
    done = threading.Event()
    answers: list[str] = []  # "ok", or what went wrong

    def get() -> None:
        client = Client(stack.lb_url, timeout_s=10)
        while not done.is_set():
            try:
                answer = client.send("GET", "/objects/reload-test")
                answers.append("ok" if (answer.status, answer.body) == (200, b"r" * SIZE)
                               else f"HTTP {answer.status}, {len(answer.body)} bytes")
            except Exception as exc:  # the test reports every failure, whatever its kind
                answers.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=get) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(RELOADS):
            stack.reconfigure()
            time.sleep(0.3)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    time.sleep(1)  # an old worker's last words reach the log
    left = [line for line in lb.logs(since=since).decode(errors="replace").splitlines()
            if "left in connection" in line]
    failed = [a for a in answers if a != "ok"]
    assert len(answers) > 20 * RELOADS, f"too few answers to tell: {len(answers)}"
    assert (failed, left) == ([], []), f"{len(failed)} of {len(answers)} answers failed in {RELOADS} reloads"
