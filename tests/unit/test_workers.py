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
        deadline = time.monotonic() + 1  # the thread is idle again once it is back on the stack; a loaded
        while not workers._idle and time.monotonic() < deadline:  # host may take a moment to get it there
            time.sleep(0.001)
    workers.shutdown()
    assert len(set(seen)) == 1, "one task at a time, each after the last was done, needs one thread"


def test_threads_that_get_tasks_done_are_not_joined_by_more() -> None:
    """While tasks get done, a queue of waiting ones adds no thread: on a busy (not stalled)
    generator more threads would only contend for the GIL."""
    # grow_after_s well above a busy host's scheduling hiccups: the policy is under test, not a timing
    # (with 5 ms, one descheduled moment on a loaded CI runner looked like a stall and added a thread).
    workers = Workers(64, name="t", min_workers=1, grow_after_s=0.1)
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
    # ideally 10 grow periods (50 ms); a loaded host may stretch that, an unbounded pool would not need it
    assert max(started) - t0 < 1.5, "each waiting task got its thread within a few grow periods"


def test_shutdown_runs_every_task_submitted() -> None:
    workers = Workers(3, name="t", min_workers=1)
    ran: list[int] = []
    for i in range(50):
        workers.submit(lambda i=i: ran.append(i))  # type: ignore[misc]
    workers.shutdown()
    assert sorted(ran) == list(range(50))
