from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_azchaos.stack.owner import owner_token

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Take Ctrl-C as a terminal delivers it, even when started with SIGINT ignored.

    A command started in the background by a shell without job control (``cmd &`` in a CI
    script) inherits SIGINT ignored, Python then installs no KeyboardInterrupt for it, and so
    would every pytest and azchaos process the suite starts: its tests of Ctrl-C (the plugin's
    held interrupts, a game day stopped halfway, a second Ctrl-C while removing) would fail on
    the runner, not on the code. With a handler here, the processes it starts get SIGINT's
    default action again (an exec resets handlers, not an ignore)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def gone_owner() -> str:
    """The owner token of a process that has died since: its stacks are the sweep's to remove."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    token = owner_token(child.pid)
    child.kill()
    child.wait()
    return token
