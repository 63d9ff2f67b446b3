"""The threads that perform the load generator's operations.

Why not concurrent.futures.ThreadPoolExecutor: it hands each task to whichever waiting
thread the OS wakes, and starts a new thread whenever none is idle at that instant, so a
short GIL stall at a high rate grows the pool to dozens of threads that then contend for
the GIL — and that contention is what delays operations (bench/traffic_capacity.py:
at 5,000 req/s the p99 scheduling lag was 13 ms with 64 threads, 1 ms with 8). Here the
most recently idle thread takes the next task (last in, first out: few threads stay
busy and the rest sleep), and a thread is added only when a task has waited
``grow_after_s`` for one — at once when the server stalls and every thread waits on it,
not on a hiccup.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

Task = Callable[[], None]
GROW_AFTER_S = 0.005
MIN_WORKERS = 4


class Workers:
    """Up to ``max_workers`` threads running tasks that must not raise.

    The owner calls :meth:`grow` while tasks wait (its return value says when to call
    it again) and :meth:`shutdown` at the end, which runs every task submitted so far.
    """

    def __init__(self, max_workers: int, *, name: str, grow_after_s: float = GROW_AFTER_S,
                 min_workers: int = MIN_WORKERS) -> None:
        self.max_workers = max_workers
        self.name = name
        self.grow_after_s = grow_after_s
        self.min_workers = min(min_workers, max_workers)
        self._lock = threading.Lock()
        self._idle: list[tuple[threading.Lock, list[Task]]] = []  # a stack: the last one idle goes first
        self._waiting: deque[tuple[float, Task]] = deque()  # tasks no thread was free for, oldest first
        self._threads: list[threading.Thread] = []
        self._closing = False
        self._last_done = time.monotonic()

    def submit(self, task: Task) -> None:
        """Run ``task`` on an idle thread, a new one while there are fewer than ``min_workers``,
        or else as soon as a thread is free (or :meth:`grow` adds one)."""
        with self._lock:
            if self._idle:
                wake, box = self._idle.pop()
                box.append(task)
                wake.release()
            elif len(self._threads) < self.min_workers:
                self._start(task)
            else:
                self._waiting.append((time.monotonic(), task))

    def grow(self) -> float | None:
        """Start a thread for each task that has waited ``grow_after_s`` while no task finished
        (the threads are stuck on a stalled server, not merely busy), up to ``max_workers``;
        return the seconds until the next check is due, None if no task waits."""
        now = time.monotonic()
        with self._lock:
            if not self._waiting or len(self._threads) >= self.max_workers:
                return None
            since_done = now - self._last_done
            if since_done < self.grow_after_s:
                return self.grow_after_s - since_done  # tasks get done: more threads would only contend
            while (self._waiting and len(self._threads) < self.max_workers
                   and now - self._waiting[0][0] >= self.grow_after_s):
                self._start(self._waiting.popleft()[1])
            if not self._waiting or len(self._threads) >= self.max_workers:
                return None
            return self._waiting[0][0] + self.grow_after_s - now

    def shutdown(self) -> None:
        """Wait until every task submitted has run, then end the threads."""
        while (due := self.grow()) is not None:  # tasks still wait: the owner no longer calls grow()
            time.sleep(due)
        with self._lock:
            self._closing = True
            idle, self._idle = self._idle, []
        for wake, _ in idle:
            wake.release()  # with an empty box: end
        for thread in list(self._threads):
            thread.join()

    @property
    def size(self) -> int:
        """How many threads were started."""
        return len(self._threads)

    def _start(self, task: Task) -> None:
        thread = threading.Thread(target=self._run, args=(task,), daemon=True,
                                  name=f"{self.name}-{len(self._threads)}")
        self._threads.append(thread)
        thread.start()

    def _run(self, task: Task) -> None:
        wake = threading.Lock()
        wake.acquire()
        box: list[Task] = []
        while True:
            task()
            self._last_done = time.monotonic()
            with self._lock:
                if self._waiting:
                    task = self._waiting.popleft()[1]
                    continue
                if self._closing:
                    return
                self._idle.append((wake, box))
            wake.acquire()
            if not box:
                return
            task = box.pop()
