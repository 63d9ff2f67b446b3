"""The DB image's watchdog (environments/images/postgres-patroni/watchdog.py), run for real: a named
pipe written as Patroni's ``testing`` watchdog driver writes it, and a process it must kill."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

WATCHDOG = Path(__file__).resolve().parents[2] / "environments" / "images" / "postgres-patroni" / "watchdog.py"
VICTIM = "azchaos-victim"  # stands for "postgres": the process name the watchdog kills


@pytest.fixture
def node(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A watchdog on a pipe in tmp_path, and a victim process with the name it kills."""
    fifo = tmp_path / "watchdog"
    sleeper = tmp_path / VICTIM
    shutil.copy(shutil.which("sleep") or "/bin/sleep", sleeper)
    victim = subprocess.Popen([str(sleeper), "600"])
    dog = subprocess.Popen([sys.executable, str(WATCHDOG), str(fifo), VICTIM],
                           stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not fifo.is_fifo():
        assert time.monotonic() < deadline and dog.poll() is None, "the watchdog did not create its pipe"
        time.sleep(0.02)
    fd = os.open(fifo, os.O_WRONLY)  # as Patroni does when it leads
    yield {"fd": fd, "victim": victim, "dog": dog}
    os.close(fd)
    for proc in (victim, dog):
        proc.kill()
        proc.wait()


def alive(proc: subprocess.Popen[Any]) -> bool:
    return proc.poll() is None


def test_pings_keep_the_node_alive_and_silence_kills_it_after_the_timeout(node: dict[str, Any]) -> None:
    os.write(node["fd"], b"Ctimeout=4\n")
    for _ in range(10):
        last = time.monotonic()  # before the write: the watchdog reads the ping no sooner
        os.write(node["fd"], b"1")
        time.sleep(0.1)
    assert alive(node["victim"]), "killed while Patroni still renewed its key"
    node["victim"].wait(timeout=60)
    waited = time.monotonic() - last
    assert waited >= 4, f"killed {waited:.1f} s after the last ping, before the 4 s timeout"
    log = log_until(node["dog"], f"killed {VICTIM}")
    assert "armed: 4 s" in log and f"no keepalive from Patroni for 4 s: killed {VICTIM}" in log


def log_until(dog: subprocess.Popen[str], text: str, timeout_s: float = 60) -> str:
    """The watchdog's log up to the line holding ``text``, or all of it after ``timeout_s``. It logs a
    kill after making it (the line names the processes killed): on a loaded host the victim can be
    dead well before the line is written, so reading the log at once missed it."""
    lines: list[str] = []

    def read() -> None:
        assert dog.stderr is not None
        for line in dog.stderr:
            lines.append(line)
            if text in line:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    return "".join(lines)


def test_a_magic_close_disarms_it(node: dict[str, Any]) -> None:
    os.write(node["fd"], b"Ctimeout=1\n1V")
    time.sleep(3)
    assert alive(node["victim"]), "killed although Patroni disarmed the watchdog (it demoted)"


def test_a_timeout_command_split_across_writes_is_read_whole(node: dict[str, Any]) -> None:
    os.write(node["fd"], b"Ctime")
    time.sleep(0.2)
    os.write(node["fd"], b"out=1\n")
    node["victim"].wait(timeout=60)  # armed for 1 s, and never pinged
    assert not alive(node["victim"])
