#!/usr/bin/env python3
"""The node's watchdog: PostgreSQL is killed when Patroni stops renewing the leader key in time.

Patroni keeps a primary only while it holds the leader key in etcd; the other side promotes once
the key expires (``ttl`` after its last renewal). A primary cut off from etcd demotes itself from
Patroni's loop, and a loop that stalls (a starved host, a hung etcd call) lets the old primary take
writes after the new one was promoted: a split brain. Patroni's guard is a watchdog: it arms one
with ``ttl - safety_margin`` when it leads, pings it after each renewal, and the watchdog stops the
node when the pings stop. On a host that is a kernel watchdog, which reboots the machine; a
container has none (and must not reboot its host), so this process plays its part for the
container: it kills PostgreSQL, and Patroni starts it again as whatever etcd says it is.

It is written here by hand because nothing else speaks to Patroni without a kernel device: it reads
the protocol of Patroni's ``testing`` driver (patroni/watchdog/linux.py, TestingWatchdogDevice),
which turns the device's calls into writes on a named pipe:

- ``Ctimeout=<s>\\n`` when Patroni arms the watchdog (it has just become the leader);
- any other byte is a keepalive (Patroni writes ``1`` after each renewal of its key);
- ``V`` before Patroni closes the device (it demotes or stops): the watchdog is disarmed.

As with a kernel watchdog, a Patroni that dies without ``V`` leaves the timer running.

Usage: ``watchdog.py FIFO [PROCESS_NAME]``, started before Patroni (docker-entrypoint.sh). It holds
the pipe open for writing too, so Patroni's open never blocks and the pipe never reports EOF.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time


def log(message: str) -> None:
    """A line like Patroni's own (they share the container's log), so that both read in order."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f",{int(now % 1 * 1000):03d}"
    print(f"{stamp} WARNING: azchaos-watchdog: {message}", file=sys.stderr, flush=True)


def kill_all(name: str) -> list[int]:
    """SIGKILL every process called ``name`` (PostgreSQL's postmaster and every backend: a backend
    outlives its postmaster until it next waits, and could commit meanwhile). Twice, for a backend
    forked while the first sweep ran."""
    killed: list[int] = []
    for _ in range(2):
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() != name:
                        continue
                os.kill(int(entry), signal.SIGKILL)
                killed.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue  # gone meanwhile, or not ours
    return sorted(set(killed))


class Timer:
    """The watchdog's state: disarmed, or a deadline on the monotonic clock."""

    def __init__(self) -> None:
        self.timeout = 60.0  # a kernel watchdog's usual default; Patroni always sets its own
        self.deadline: float | None = None
        self.pending = b""

    def feed(self, data: bytes, now: float) -> None:
        self.pending += data
        while self.pending:
            if self.pending.startswith(b"C"):
                line, newline, rest = self.pending.partition(b"\n")
                if not newline:
                    return  # the rest of the command is still on its way
                if line.startswith(b"Ctimeout="):
                    self.timeout = float(line[len(b"Ctimeout="):])
                    log(f"armed: {self.timeout:g} s")
                self.deadline = now + self.timeout
                self.pending = rest
                continue
            byte, self.pending = self.pending[:1], self.pending[1:]
            if byte == b"V":
                if self.deadline is not None:
                    log("disarmed")
                self.deadline = None
            else:
                self.deadline = now + self.timeout

    def wait(self, now: float) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - now)


def main(fifo: str, name: str = "postgres") -> None:
    if os.path.lexists(fifo):
        os.unlink(fifo)  # left by a previous start of this container
    os.mkfifo(fifo, 0o600)
    fd = os.open(fifo, os.O_RDWR)
    timer = Timer()
    log(f"listening on {fifo}")
    while True:
        readable, _, _ = select.select([fd], [], [], timer.wait(time.monotonic()))
        if readable:
            timer.feed(os.read(fd, 4096), time.monotonic())
        elif timer.deadline is not None and time.monotonic() >= timer.deadline:
            killed = kill_all(name)
            log(f"no keepalive from Patroni for {timer.timeout:g} s: killed {name} "
                f"({', '.join(map(str, killed)) or 'none running'}) before its leader key can expire")
            timer.deadline = None


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: watchdog.py FIFO [PROCESS_NAME]")
    main(*sys.argv[1:])
