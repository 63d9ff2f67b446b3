"""Open a page in Debian's headless Chromium and see what a person would: the console errors, the
failed loads, the DOM, and a full-page screenshot.

It speaks the Chrome DevTools Protocol over ``--remote-debugging-pipe`` (file descriptors 3 and 4,
JSON messages ended by NUL), so it needs no WebSocket library and no free port. Console messages
of level error, uncaught exceptions and failed loads (Log.entryAdded, e.g. a missing image) all
count as errors: Chromium's ``--enable-logging`` prints them all as INFO and misses failed loads.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--remote-debugging-pipe"]


@dataclass
class Page:
    """What a load of one page showed."""

    errors: list[str] = field(default_factory=list)
    value: Any = None  # what the probe expression returned
    screenshot: bytes = b""


class ChromiumError(Exception):
    """Chromium is missing, died, or did not answer in time."""


def binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise ChromiumError("Debian's chromium is not installed (scripts/setup.sh installs it: "
                            "apt-get install chromium)")
    return found


def open_page(url: str, *, probe: str = "document.title", timeout_s: float = 120, width: int = 1280) -> Page:
    """Load ``url``, evaluate ``probe`` (a JavaScript expression) and take a full-page screenshot."""
    with tempfile.TemporaryDirectory(prefix="azchaos-chromium-") as profile:  # another Chromium's is not ours
        return _open(url, probe, timeout_s, width, profile)


def _open(url: str, probe: str, timeout_s: float, width: int, profile: str) -> Page:
    to_child, from_parent = os.pipe()
    from_child, to_parent = os.pipe()

    # bash (dash takes only one-digit fds) puts our pipe ends on fds 3 and 4, where Chromium looks.
    command = ["bash", "-c", f'exec "$0" "$@" 3<&{to_child} 4>&{to_parent}', binary(), *FLAGS,
               f"--user-data-dir={profile}", "about:blank"]
    process = subprocess.Popen(command, pass_fds=(to_child, to_parent), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(to_child)
    os.close(to_parent)
    session = _Session(os.fdopen(from_parent, "wb"), os.fdopen(from_child, "rb"), time.monotonic() + timeout_s)
    try:
        return session.load(url, probe, width)
    finally:
        session.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _Session:
    def __init__(self, out: Any, inp: Any, deadline: float) -> None:
        self.out, self.inp, self.deadline = out, inp, deadline
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.buffer = b""
        self.session: str | None = None

    def load(self, url: str, probe: str, width: int) -> Page:
        target = self.call("Target.createTarget", url="about:blank", session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True, session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        # awaitPromise: a probe may be an async function that waits for a page to render, and acts on it.
        value = self.call("Runtime.evaluate", expression=probe, returnByValue=True,
                          awaitPromise=True)["result"].get("value")
        height = int(self.call("Page.getLayoutMetrics")["cssContentSize"]["height"])
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=max(height, 600), deviceScaleFactor=1,
                  mobile=False)
        shot = base64.b64decode(self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"])
        return Page(errors=self.errors(), value=value, screenshot=shot)

    def errors(self) -> list[str]:
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append("console.error: " + " ".join(str(a.get("value", a.get("description", "")))
                                                          for a in params["args"]))
            elif event["method"] == "Runtime.exceptionThrown":
                found.append("exception: " + params["exceptionDetails"].get("text", ""))
            elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                found.append(f"{entry['source']}: {entry['text']} {entry.get('url', '')}".strip())
        return found

    def call(self, method: str, *, session: bool = True, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session and self.session:
            message["sessionId"] = self.session
        self.out.write(json.dumps(message).encode() + b"\0")
        self.out.flush()
        while True:
            answer = self.read()
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise ChromiumError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer["result"]
                return result
            if "method" in answer:
                self.events.append(answer)

    def wait_event(self, method: str) -> None:
        while not any(e["method"] == method for e in self.events):
            answer = self.read()
            if "method" in answer:
                self.events.append(answer)

    def read(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.inp], [], [], left)[0]:
                raise ChromiumError("Chromium did not answer in time")
            chunk = os.read(self.inp.fileno(), 65536)
            if not chunk:
                raise ChromiumError("Chromium closed its DevTools pipe (it died?)")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        found: dict[str, Any] = json.loads(message)
        return found

    def close(self) -> None:
        self.session = None
        with contextlib.suppress(OSError):
            self.out.write(json.dumps({"id": 0, "method": "Browser.close", "params": {}}).encode() + b"\0")
            self.out.flush()
        for stream in (self.out, self.inp):
            with contextlib.suppress(OSError):
                stream.close()
