"""The LB's own view of its targets: nginx's error log, read by the lb role's look, named by the watch,
and used to explain failed requests (pytest_azchaos.stack.roles.lb, watch, explain)."""

from __future__ import annotations

import calendar
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_azchaos.checks import failed_requests
from pytest_azchaos.history import FAILED, READ, History, Operation
from pytest_azchaos.stack import Fact, Stamped
from pytest_azchaos.stack.roles.lb import MARKED, NO_LIVE, ErrorLogLook, UpstreamLine, parse_line
from pytest_azchaos.timeline import LB, LB_ALERT, Timeline
from pytest_azchaos.watch import HealthWatch

# Real lines, from the region's nginx (1.22; 1.26 writes them alike): AZ a frozen under traffic; then two closed ports.
TIMED_OUT = ('2026/12/04 07:52:35 [error] 6#6: *39 upstream timed out (110: Connection timed out) while reading '
             'response header from upstream, client: 172.22.0.1, server: , request: "GET / HTTP/1.1", upstream: '
             '"http://172.22.0.4:8080/", host: "127.0.0.1:32775"')
DISABLED = ('2026/12/04 07:52:35 [warn] 6#6: *44 upstream server temporarily disabled while reading response header '
            'from upstream, client: 172.22.0.1, server: , request: "GET / HTTP/1.1", upstream: '
            '"http://172.22.0.4:8080/", host: "127.0.0.1:32775"')
REFUSED = ('2026/12/04 07:53:42 [error] 7#7: *1 connect() failed (111: Connection refused) while connecting to '
           'upstream, client: 127.0.0.1, server: , request: "GET /items/7 HTTP/1.0", upstream: '
           '"http://127.0.0.1:9/items/7", host: "x"')
NO_LIVE_LINE = ('2026/12/04 07:53:42 [error] 7#7: *4 no live upstreams while connecting to upstream, client: '
                '127.0.0.1, server: , request: "GET /items/7 HTTP/1.0", upstream: "http://app/items/7", host: "x"')
BUFFERED = ('2026/12/04 07:53:43 [warn] 7#7: *9 an upstream response is buffered to a temporary file '
            '/var/lib/nginx/proxy/1/00/0000000001 while reading upstream, client: 127.0.0.1, server: , request: '
            '"GET /objects/k HTTP/1.1", upstream: "http://172.22.0.4:8080/objects/k", host: "x"')
STARTED = "2026/12/04 07:52:27 [notice] 1#1: start worker process 6"
# The LB's own trouble: its worker killed (the region's nginx 1.26), and nginx 1.22's bug #2367.
KILLED = "2026/12/06 21:36:04 [alert] 1#1: worker process 1425 exited on signal 9"
LEFT_OPEN = "2026/12/06 21:36:04 [alert] 29#29: *20 open socket #27 left in connection 20"

AT_35 = float(calendar.timegm((2026, 12, 4, 7, 52, 35)))


def test_real_lines_say_which_target_failed_how_and_when() -> None:
    assert parse_line(TIMED_OUT) == UpstreamLine(AT_35, "172.22.0.4:8080", "timed out (reading response header)")
    assert parse_line(DISABLED) == UpstreamLine(AT_35, "172.22.0.4:8080", MARKED)
    assert parse_line(REFUSED) == UpstreamLine(AT_35 + 67, "127.0.0.1:9", "connection refused (connecting)")
    assert parse_line(NO_LIVE_LINE) == UpstreamLine(AT_35 + 67, "app", NO_LIVE)


def test_the_lbs_own_alerts_are_read_without_the_numbers_that_differ_each_time() -> None:
    at = float(calendar.timegm((2026, 12, 6, 21, 36, 4)))
    assert parse_line(KILLED) == UpstreamLine(at, "", "worker process exited on signal 9", own=True)
    assert parse_line(LEFT_OPEN) == UpstreamLine(at, "", "open socket left in connection", own=True)


def test_lines_that_are_no_failure_of_a_target_are_skipped() -> None:
    assert parse_line(BUFFERED) is None
    assert parse_line(STARTED) is None
    assert parse_line("") is None


def mono(wall: float) -> float:
    return wall + time.monotonic() - time.time()


def stamp(fact: Fact) -> Stamped:
    assert isinstance(fact, Stamped), f"an LB event is stamped with its own time: {fact!r}"
    return fact


def look(every_s: float = 1.0) -> ErrorLogLook:
    return ErrorLogLook(object(), object(), every_s=every_s)  # type: ignore[arg-type]


def test_the_lbs_own_alerts_are_one_event_under_its_name() -> None:
    lb = ErrorLogLook(object(), type("Member", (), {"alias": "lb"})())  # type: ignore[arg-type]
    t = mono(float(calendar.timegm((2026, 12, 6, 21, 36, 4))))
    lb.add([KILLED, LEFT_OPEN, LEFT_OPEN, TIMED_OUT.replace("2026/12/04 07:52:35", "2026/12/06 21:36:04")],
           since=t - 1, now=t)
    facts = {name: stamp(value).detail for name, value in lb.due(t + 1).items()}
    assert facts == {f"{LB_ALERT} lb": "open socket left in connection, 3 alerts",
                     "lb 172.22.0.4:8080": "failed: timed out (reading response header), 1 failure"}


def test_a_busy_second_is_one_event_per_target_with_its_count() -> None:
    lb, t = look(), mono(AT_35)
    lb.add([TIMED_OUT, DISABLED, TIMED_OUT, DISABLED, TIMED_OUT.replace("172.22.0.4", "172.22.0.5")],
           since=t - 0.5, now=t + 0.2)
    assert lb.due(t + 0.5) == {}  # a second is not over yet: more lines may come
    facts = lb.due(t + 1.01)
    assert set(facts) == {"lb 172.22.0.4:8080", "lb 172.22.0.5:8080"}
    detail, at = facts["lb 172.22.0.4:8080"]
    assert detail == "marked failed: timed out (reading response header), 2 failures"
    assert at == pytest.approx(t, abs=0.01)  # the line's own second
    assert facts["lb 172.22.0.5:8080"] == Stamped("failed: timed out (reading response header), 1 failure",
                                                  pytest.approx(t, abs=0.01))
    assert lb.due(t + 5) == {}


def test_a_backlog_of_seconds_comes_out_one_event_per_target_per_look_oldest_first() -> None:
    lb, t = look(), mono(AT_35)
    lb.add([TIMED_OUT, TIMED_OUT.replace(":35 ", ":36 "), TIMED_OUT.replace(":35 ", ":37 ")], since=t - 1, now=t + 3)
    stamps = [stamp(lb.due(t + 3.01)["lb 172.22.0.4:8080"]).at for _ in range(3)]
    assert stamps == pytest.approx([t, t + 1, t + 2], abs=0.01)
    assert lb.due(t + 3.01) == {}


def test_no_live_upstreams_is_counted_in_requests() -> None:
    lb, t = look(), mono(AT_35 + 67)
    lb.add([REFUSED, DISABLED.replace("172.22.0.4:8080", "127.0.0.1:9"), NO_LIVE_LINE, NO_LIVE_LINE],
           since=t - 1, now=t)
    facts = {name: stamp(value).detail for name, value in lb.due(t + 1).items()}
    assert facts == {"lb 127.0.0.1:9": "marked failed: connection refused (connecting), 1 failure",
                     "lb app": "no live upstreams, 2 requests"}


def test_a_line_is_stamped_between_the_look_that_missed_it_and_the_one_that_read_it() -> None:
    lb, t = look(), mono(AT_35)
    # A log clock an hour ahead (another time zone): the line cannot be later than the look that read it.
    lb.add([TIMED_OUT.replace("07:52", "08:52")], since=t - 0.25, now=t)
    # ... nor earlier than the previous look, which did not see it.
    lb.add([TIMED_OUT.replace(" 07:52:35", " 06:52:35").replace("172.22.0.4", "172.22.0.9")], since=t - 0.25, now=t)
    facts = lb.due(t + 1)
    assert stamp(facts["lb 172.22.0.4:8080"]).at == pytest.approx(t)
    assert stamp(facts["lb 172.22.0.9:8080"]).at == pytest.approx(t - 0.25)


# -- reading the log incrementally, by HTTP range, from a server like nginx's ----------------------------


class RangeServer(http.server.BaseHTTPRequestHandler):
    """Serves ``path`` with byte ranges, as nginx serves the error log (200, 206 or 416)."""

    path_: Path
    requests_: list[str]

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    def _answer(self, *, head: bool) -> None:
        data = self.path_.read_bytes()
        wanted = self.headers.get("Range")
        self.requests_.append(wanted or ("HEAD" if head else "GET"))
        if wanted:
            first, last = (int(x) for x in wanted.removeprefix("bytes=").split("-"))
            if first >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = data[first:last + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {first}-{first + len(body) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class ServedStack:
    def __init__(self, port: int) -> None:
        self.port = port

    def url(self, member: object, port: int, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, ServedStack, list[str]]]:
    log = tmp_path / "error.log"
    log.write_text(STARTED + "\n" + TIMED_OUT + "\n")  # before the watch: no news
    handler = type("Handler", (RangeServer,), {"path_": log, "requests_": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield log, ServedStack(server.server_address[1]), handler.requests_
    server.shutdown()


def test_each_look_reads_only_the_new_whole_lines(served: tuple[Path, ServedStack, list[str]]) -> None:
    log, stack, asked = served
    lb = ErrorLogLook(stack, object(), every_s=0)  # type: ignore[arg-type]
    assert lb() == {}  # where the log ends
    start = log.stat().st_size
    with log.open("a") as out:
        out.write(DISABLED + "\n" + REFUSED[:40])  # a line still being written
    first = lb()
    assert list(first) == ["lb 172.22.0.4:8080"]
    assert stamp(first["lb 172.22.0.4:8080"]).detail == "marked failed, 1 failure"
    with log.open("a") as out:
        out.write(REFUSED[40:] + "\n")
    assert list(lb()) == ["lb 127.0.0.1:9"]
    assert lb() == {}  # nothing new: 416
    assert asked[0] == "HEAD" and asked[1] == f"bytes={start}-{start + (1 << 20) - 1}"
    assert asked[2] == f"bytes={start + len(DISABLED) + 1}-{start + len(DISABLED) + (1 << 20)}"


# -- the watch names the target; the explanation says what the LB did ---------------------------------------


class Region:
    """A stack with no looks whose LB targets are at ``addresses``."""

    def __init__(self, addresses: dict[str, str]) -> None:
        self.addresses = addresses
        self.asked = 0

    def looks(self) -> list[Any]:
        return []

    def upstreams(self) -> dict[str, str]:
        self.asked += 1
        return dict(self.addresses)


def test_the_watch_records_each_stamped_fact_under_the_targets_name() -> None:
    region = Region({"172.22.0.4:8080": "app-a-1"})
    w = HealthWatch(region, Timeline(), interval_s=3600).start()  # type: ignore[arg-type]
    w.stop()
    w.update({"lb 172.22.0.4:8080": Stamped("marked failed: timed out (reading response header), 3 failures", 100.5)})
    w.update({"lb 172.22.0.4:8080": Stamped("marked failed: timed out (reading response header), 3 failures", 101.5),
              "lb 172.22.0.9:8080": Stamped("failed: connection refused (connecting), 1 failure", 101.7),
              "lb app": Stamped("no live upstreams, 2 requests", 101.9)})
    assert [(e.mono, e.kind, e.subject, e.detail.split(",")[0]) for e in w.timeline.events] == [
        (100.5, LB, "app-a-1", "marked failed: timed out (reading response header)"),
        (101.5, LB, "app-a-1", "marked failed: timed out (reading response header)"),
        (101.7, LB, "172.22.0.9:8080", "failed: connection refused (connecting)"),  # unknown: as nginx says
        (101.9, LB, "app", "no live upstreams")]
    assert region.asked == 2  # at the start, and again for an unknown address, but not at every event
    assert "lb app" not in w.facts


def test_a_target_known_as_the_watch_starts_keeps_its_name_once_the_lb_no_longer_lists_it() -> None:
    """A killed or cut-off target leaves the LB's list at once, and nginx's first words about it can
    come later: every LB event of the partition scenario named an address, not a member."""
    region = Region({"172.22.0.4:8080": "app-a-1"})
    w = HealthWatch(region, Timeline(), interval_s=3600).start()  # type: ignore[arg-type]
    w.stop()
    region.addresses = {}  # AZ a is cut off: the LB lists only the targets that serve
    w.update({"lb 172.22.0.4:8080": Stamped("marked failed: timed out (connecting), 1 failure", 100.0)})
    assert [e.subject for e in w.timeline.events] == ["app-a-1"]


def test_failed_requests_say_the_lb_marked_their_replica_failed_while_they_ran() -> None:
    events = Timeline()
    events.record("inject", "outage(a, freeze)", at=100.0)
    events.record(LB, "app-a-1", "marked failed: timed out (reading response header), 4 failures", at=105.0)
    events.record(LB, "app-b-1", "marked failed: timed out (reading response header), 1 failure", at=105.0)
    events.record(LB, "app-a-1", "marked failed: timed out (reading response header), 1 failure", at=120.0)
    ops = [Operation("read", t, t, t + 5.2, FAILED, 504, action=READ, upstream="app-a-1") for t in (100.0, 100.5)]
    ops.append(Operation("read", 110.0, 110.0, 110.1, FAILED, 502, action=READ, upstream="app-a-1"))
    message = failed_requests(History(ops), events, 0).message
    assert ("2x read HTTP 504 from app-a-1 during outage(a, freeze), LB marked app-a-1 failed: timed out "
            "(reading response header) (+0.0 s to +0.5 s after inject outage(a, freeze))") in message
    assert "1x read HTTP 502 from app-a-1 during outage(a, freeze) (+10.0 s" in message  # no LB event then
    assert "app-b-1" not in message


def test_failed_requests_say_the_lb_itself_was_in_trouble_whatever_their_replica() -> None:
    events = Timeline()
    events.record(LB_ALERT, "lb", "worker process exited on signal 9, 1 alert", at=100.4)
    ops = [Operation("read", 100.0, 100.0, 100.5, FAILED, error="ProtocolError", action=READ, upstream="app-b-1"),
           Operation("read", 103.0, 103.0, 103.1, FAILED, 502, action=READ, upstream="app-b-1")]
    message = failed_requests(History(ops), events, 0).message
    assert ("1x read ProtocolError from app-b-1 LB alert: worker process exited on signal 9 (0.0 s long)"
            in message), message
    assert "1x read HTTP 502 from app-b-1 with no fault or unhealthy part on the timeline" in message
