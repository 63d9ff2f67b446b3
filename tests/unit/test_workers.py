from __future__ import annotations

import threading
import time

from pytest_azchaos.workers import Workers


def test_the_last_idle_thread_takes_the_next_task() -> None:
    workers = Workers(8, name="t")
    seen: list[str] = []
    for _ in range(20):
        done = threading.Event()
        workers.submit(lambda done=done: (seen.append(threading.current_thread().name), done.set()))  # type: ignore[misc]
        done.wait(1)
    workers.shutdown()
    assert len(set(seen)) <= 2, "one task at a time needs one thread (two: a task may end as the next comes)"


def test_threads_that_get_tasks_done_are_not_joined_by_more() -> None:
    """While tasks get done, a queue of waiting ones adds no thread: on a busy (not stalled)
    generator more threads would only contend for the GIL."""
    workers = Workers(64, name="t", min_workers=1, grow_after_s=0.005)
    most_waiting = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.2:  # a task every 0.5 ms, each takes 1 ms
        workers.submit(lambda: time.sleep(0.001))
        workers.grow()
        most_waiting = max(most_waiting, len(workers._waiting))
        time.sleep(0.0005)
    workers.shutdown()
    assert most_waiting > 20 and workers.size == 1


def test_a_stall_adds_threads_until_every_task_runs_at_once() -> None:
    workers = Workers(64, name="t", min_workers=2, grow_after_s=0.005)
    release = threading.Event()
    started: list[float] = []
    t0 = time.monotonic()
    for _ in range(10):
        workers.submit(lambda: (started.append(time.monotonic()), release.wait(5)))  # type: ignore[func-returns-value]
    while len(started) < 10 and time.monotonic() - t0 < 2:
        due = workers.grow()
        time.sleep(due if due is not None else 0.001)
    release.set()
    workers.shutdown()
    assert workers.size == 10 and len(started) == 10
    assert max(started) - t0 < 0.5, "each waiting task got its thread within a few grow periods"


def test_shutdown_runs_every_task_submitted() -> None:
    workers = Workers(3, name="t", min_workers=1)
    ran: list[int] = []
    for i in range(50):
        workers.submit(lambda i=i: ran.append(i))  # type: ignore[misc]
    workers.shutdown()
    assert sorted(ran) == list(range(50))
