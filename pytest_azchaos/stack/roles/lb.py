"""The regional load balancer (nginx): the app on its port, and the S3 endpoint on another."""

from __future__ import annotations

import calendar
import collections
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from ... import resources
from ..model import LB_ALERT, Fact, Look, Member, ServiceSpec, StackView, Stamped
from .base import TCP_OPEN, Reconfiguration, Role, http_ok

CONFIG = "/etc/nginx/nginx.conf"
# nginx's worker processes, by their titles ("nginx: worker process", "... is shutting down"); the
# anchor keeps this very shell, whose command line holds the pattern, out of the list.
WORKERS = """for f in /proc/[0-9]*/cmdline; do grep -qas '^nginx: worker' "$f" && echo "${f%/cmdline}"; done; true"""


class LbRole(Role):
    name = "lb"
    default_port = 80
    order = 5
    regional = True
    options = {"targets": None, "retry": True, "connect_timeout": "500ms", "s3": None, "s3_port": 9000}
    limits = {"s3_port": 65535}
    durations = frozenset({"connect_timeout"})
    references = {"targets": "app", "s3": "s3"}
    required = frozenset({"targets"})
    endpoint_names = ("lb", "s3")

    def ports(self, stack: StackView, member: Member) -> tuple[int, ...]:
        spec = stack.topology.service(member.service)
        s3 = (int(spec.options["s3_port"]),) if spec.options.get("s3") else ()
        return (member.port, *s3, VIEW_PORT)

    def files(self, stack: StackView, member: Member) -> dict[str, str]:
        return {CONFIG: render(stack, stack.topology.service(member.service))}

    def start_stage(self, stack: StackView, member: Member) -> int:
        return 1  # nginx refuses target names that do not resolve yet: it starts after its targets

    def not_ready(self, stack: StackView, members: list[Member]) -> list[str]:
        spec = stack.topology.service(members[0].service)
        target = stack.topology.service(spec.options["targets"])
        return [m.alias for m in members if not http_ok(stack.url(m, m.port, target.health_path))]

    def reconfigure(self, stack: StackView, member: Member) -> Reconfiguration:
        """Register the running targets again, like an ALB after a replacement: nginx resolves
        names when it (re)loads, and a restarted or reconnected target may have a new address.
        A target that a heal is bringing back is left out until it is ready (Stack.hold_out)."""
        spec = stack.topology.service(member.service)
        running = {m.container for m in stack.members() if stack.in_service(m)}
        return Reconfiguration({CONFIG: render(stack, spec, running=running)}, ["nginx", "-s", "reload"])

    def serving(self, stack: StackView, member: Member) -> Sequence[str]:
        """nginx's worker processes. A reload is graceful: the old workers finish the requests they
        hold, then exit (no ps in the image: their titles are read from /proc)."""
        return ["sh", "-c", WORKERS]

    def endpoints(self, stack: StackView, members: list[Member]) -> dict[str, Any]:
        """The app on the LB's URL, and the S3 endpoint on its S3 port."""
        if not members:
            return {}
        lb = members[0]
        spec = stack.topology.service(lb.service)
        found: dict[str, Any] = {"lb": stack.url(lb, lb.port)}
        if spec.options.get("s3"):
            found["s3"] = {"url": stack.url(lb, int(spec.options["s3_port"])),
                           "access_key": stack.secret("s3_access_key"),
                           "secret_key": stack.secret("s3_secret_key"), "region": "us-east-1",
                           "bucket": stack.topology.service(spec.options["s3"]).options["bucket"]}
        return found

    def upstreams(self, stack: StackView, members: list[Member]) -> dict[str, str]:
        """What each server line stands for: a link's proxy address or the target's own -> its alias."""
        if not members:
            return {}
        spec = stack.topology.service(members[0].service)
        services = [spec.options["targets"]] + ([spec.options["s3"]] if spec.options.get("s3") else [])
        return {address: m.alias for service in services for m, address in _targets(stack, str(service))}

    def looks(self, stack: StackView, members: list[Member]) -> list[Look]:
        """What nginx itself decided about its targets, read from its error log (:class:`ErrorLogLook`)."""
        return [ErrorLogLook(stack, m) for m in members]

    def probe(self, stack: StackView, member: Member) -> str:
        return TCP_OPEN % member.port

    def depends_on(self, stack: StackView, member: Member) -> dict[str, dict[str, str]]:
        return {m.alias: {"condition": "service_started"} for m in stack.members() if m.role != "lb"}


# Overload: the region admits this many requests at once per target; past that, 503 + Retry-After.
IN_FLIGHT_PER_TARGET = 64


def _share(stack: StackView, service: str) -> int:
    """Return the requests one target may hold at once (nginx's max_conns; 0: no limit).

    The targets left when the largest AZ is lost can hold the region's whole budget between them,
    so a dead target's share is never missed (no 502 for load); and a target that hangs (frozen)
    fills only its own share, which nginx then skips, so it cannot take the whole budget.
    """
    members = stack.members(service=service)
    per_az = collections.Counter(m.az for m in members)
    left = len(members) - max(per_az.values(), default=0)
    return math.ceil(IN_FLIGHT_PER_TARGET * len(members) / left) if left > 0 else 0


def _upstream(stack: StackView, service: str, running: set[str] | None, *, max_conns: int = 0) -> str:
    """Return the ``server`` lines of an upstream: the members of ``service`` that are running.

    nginx resolves names when it (re)loads and refuses a name that does not
    resolve, which is what a stopped container's name does: so a target that is
    down is left out, and the stack registers it again after it is healed.
    """
    lines, addresses = [], []
    for member, address in _targets(stack, service):
        link = next((k for k in stack.links() if k.name == f"{member.az}/lb->{member.alias}"), None)
        via = [member.container] + ([stack.member(link.proxy).container] if link else [])
        if running is not None and not set(via) <= running:
            continue
        limit = f" max_conns={max_conns}" if max_conns else ""
        lines.append(f"        server {address} max_fails=1 fail_timeout=5s{limit};")
        addresses.append(address)
    # Passive checks mark a target failed after one timeout. When every target is marked (a slow
    # dependency made healthy ones time out once each), nginx would answer 502 "no live upstreams"
    # to everything for fail_timeout: an outage of the LB's own making. The same targets as
    # backups, never marked, are tried instead: a last resort, as an ALB fails open when no target
    # is healthy.
    lines += [f"        server {address} backup max_fails=0;" for address in addresses]
    # nginx needs one server: a closed port, so requests fail fast with 502.
    return "\n".join(lines) or "        server 127.0.0.1:9 max_fails=0;"


def _targets(stack: StackView, service: str) -> list[tuple[Member, str]]:
    """The members of ``service`` and the address the LB reaches each at: through its link, if any."""
    found = []
    for member in stack.members(service=service):
        link = next((k for k in stack.links() if k.name == f"{member.az}/lb->{member.alias}"), None)
        found.append((member, link.address if link else f"{member.alias}:{member.port}"))
    return found


def render(stack: StackView, lb: ServiceSpec, *, running: set[str] | None = None) -> str:
    """Render the nginx configuration of ``lb`` with the ``running`` targets (default: all)."""
    targets = str(lb.options["targets"])
    template = resources.fixture("nginx/nginx.conf.template").read_text()
    s3 = lb.options.get("s3")
    servers = _upstream(stack, targets, running, max_conns=_share(stack, targets))
    values = {
        "upstream": targets,
        "servers": servers,
        # Overload: requests past this many in the region get 503 + Retry-After (docs/stack.md).
        "in_flight": str(IN_FLIGHT_PER_TARGET * max(1, servers.count(" max_conns="))),
        "port": str(lb.port),
        "connect_timeout": f"{int(lb.options['connect_timeout'] * 1000)}ms",
        # Not http_503: an app answers 503 when *its* dependency fails (the DB failing over);
        # counting that against the target would eject every replica at once, as no ALB does.
        "next_upstream": "error timeout http_502 http_504" if lb.options["retry"] else "off",
        "s3_server": S3_SERVER.format(port=lb.options["s3_port"], servers=_upstream(stack, s3, running))
        if s3 else "",
        "view_server": VIEW_SERVER.format(port=VIEW_PORT, log=ERROR_LOG),
        "error_log": ERROR_LOG,
    }
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", value)
    return template


S3_SERVER = """
    # The S3 endpoint: MinIO nodes of every AZ behind one address, like S3's regional endpoint.
    upstream s3 {{
        zone s3 64k;
{servers}
        keepalive 16;
    }}

    server {{
        listen {port};
        client_max_body_size 0;
        ignore_invalid_headers off;
        proxy_buffering off;
        proxy_request_buffering off;
        # What both locations below share (they inherit it): keep-alive to the nodes, the node
        # that answered, and another node after a failed attempt.
        add_header X-Azchaos-Upstream $upstream_addr always;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_connect_timeout 500ms;
        proxy_next_upstream error timeout http_502 http_503 http_504;
        proxy_next_upstream_tries 3;

        # Reads must not wait long on a node that hangs (a frozen AZ): give up after 3 s and
        # ask another node. Uploads (PUT, POST) take their own, longer limits below.
        location / {{
            error_page 418 = @upload;
            if ($request_method ~ ^(PUT|POST)$) {{
                return 418;
            }}
            proxy_pass http://s3;
            proxy_read_timeout 3s;
            proxy_send_timeout 3s;
        }}

        location @upload {{
            proxy_pass http://s3;
            # A frozen node accepts the connection and then nothing: give up on it when it has
            # taken no data for 5 s (its small TCP buffers fill within milliseconds), or has not
            # answered 15 s after the whole request (a healthy node answers a part within seconds
            # even while a peer hangs: it drops that peer's drives after 3 s). Clients retry a
            # failed part, and the node is skipped for fail_timeout meanwhile.
            proxy_read_timeout 15s;
            proxy_send_timeout 5s;
        }}
    }}
"""


# -- The LB's own view of its targets -----------------------------------------------------------

#: the port of the LB's own view (its error log) for the watch, published on 127.0.0.1 only
VIEW_PORT = 9113
ERROR_LOG = "/var/log/nginx/azchaos-error.log"
READ_AT_MOST = 1 << 20  # bytes of the log per look: a backlog is read over a few looks

VIEW_SERVER = """
    # The LB's own view of its targets (roles/lb.py, ErrorLogLook). Open-source nginx has no API
    # for what its passive checks decided, so failed attempts, targets marked failed and "no live
    # upstreams" are read from its error log, served here to the watch (new bytes only, by range).
    # At warn: "upstream server temporarily disabled" is a warning. At http level the main
    # error_log is no longer inherited, so stderr (docker logs) is named again. The main level
    # writes the same file: nginx's alerts about itself (a worker that died) are news too.
    error_log stderr warn;
    error_log {log} warn;

    server {{
        listen {port};
        access_log off;
        location = /error.log {{
            alias {log};
            default_type text/plain;
        }}
    }}
"""

MARKED = "marked failed"  # nginx's "upstream server temporarily disabled": skipped for fail_timeout
NO_LIVE = "no live upstreams"  # every target marked failed or full: the request got 502 at once

# A line about a target, e.g. (nginx 1.22; 1.26 writes the same):
# 2025/01/31 10:00:03 [error] 29#29: *815 upstream timed out (110: Connection timed out) while reading
# response header from upstream, client: 172.18.0.1, server: , request: "GET /items/1 HTTP/1.1",
# upstream: "http://172.18.0.7:18080/items/1", host: "127.0.0.1:32768"
_LINE = re.compile(r'^(?P<time>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[\w+\] \d+#\d+: (?:\*\d+ )?(?P<what>.+?)'
                   r'(?: while (?P<doing>[^,]+))?, client: .*?, upstream: "\w+://(?P<peer>[^/"]+)')
# What a target did wrong; other lines with an upstream (a response buffered to a file) are no failure.
_FAILURES = ("timed out", "failed (", "prematurely closed", "upstream sent")
# The LB's own trouble: an alert, critical or emergency line about no target, e.g.
# 2026/12/06 21:40:02 [alert] 1#1: worker process 29 exited on signal 9
# 2026/12/06 21:40:02 [alert] 29#29: *20 open socket #27 left in connection 20
_OWN_LINE = re.compile(r"^(?P<time>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(?:alert|crit|emerg)\] \d+#\d+: "
                       r"(?:\*\d+ )?(?P<what>.+?)(?:, client: .*)?$")
# The numbers that differ from one line of the same trouble to the next: processes, sockets, connections.
_IDS = re.compile(r"(?<=process) \d+|(?<=socket) #\d+|(?<=connection) \d+")


@dataclass(frozen=True)
class UpstreamLine:
    """One line of nginx's error log about a target: what nginx saw or decided, and when."""

    wall: float  # the line's time (whole seconds, time.time() scale)
    peer: str  # the target as nginx names it, "172.18.0.7:18080"; the upstream ("app") for NO_LIVE; "" if own
    what: str  # MARKED, NO_LIVE, a failure: "timed out (reading response header)"; or the LB's own alert
    own: bool = False  # about the LB itself (a worker that died), not about a target


def parse_line(line: str) -> UpstreamLine | None:
    """Read one line of nginx's error log; None unless it is about a target or the LB's own trouble."""
    found = _LINE.match(line.strip())
    if not found:
        own = _OWN_LINE.match(line.strip())
        return UpstreamLine(_wall(own["time"]), "", _IDS.sub("", own["what"]), own=True) if own else None
    what = found["what"]
    if what.startswith("upstream server temporarily disabled"):
        what = MARKED
    elif what.startswith(NO_LIVE):
        what = NO_LIVE
    elif any(word in what for word in _FAILURES):
        what = _failure(what, found["doing"] or "")
    else:
        return None
    return UpstreamLine(_wall(found["time"]), found["peer"], what)


def _wall(stamp: str) -> float:
    """A line's time. nginx writes local time, and the image has no time zone (UTC); the look clamps it anyway."""
    return float(calendar.timegm(time.strptime(stamp, "%Y/%m/%d %H:%M:%S")))


def _failure(what: str, doing: str) -> str:
    """ "timed out (reading response header)", "connection refused (connecting)"."""
    errno = re.search(r"\(\d+: ([^)]+)\)", what)
    reason = "timed out" if "timed out" in what else errno[1].lower() if errno else what.removeprefix("upstream ")
    doing = doing.removesuffix(" from upstream").removesuffix(" to upstream")
    return f"{reason} ({doing})" if doing else reason


@dataclass
class Tally:
    """What nginx logged about one target within about a second, from its first line at ``at``."""

    at: float  # monotonic
    own: bool = False  # the LB's own alerts, not a target's failures
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    marked: int = 0
    refused: int = 0  # requests answered at once for want of a live target

    def add(self, what: str) -> None:
        if what == MARKED:
            self.marked += 1
        elif what == NO_LIVE:
            self.refused += 1
        else:
            self.failures[what] += 1

    def detail(self) -> str:
        """ "marked failed: timed out (reading response header), 3 failures"; "no live upstreams, 9 requests";
        the LB's own: "worker process exited on signal 9, 1 alert"."""
        if self.own:
            return f"{self.failures.most_common(1)[0][0]}, {_count(sum(self.failures.values()), 'alert')}"
        if self.refused:
            return f"{NO_LIVE}, {_count(self.refused, 'request')}"
        reason = f": {self.failures.most_common(1)[0][0]}" if self.failures else ""
        failed = sum(self.failures.values()) or self.marked
        return f"{MARKED if self.marked else 'failed'}{reason}, {_count(failed, 'failure')}"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


class ErrorLogLook:
    """The watch's look at what nginx decided about its targets: the new lines of its error log.

    Each call reads what nginx wrote since the last one and returns, per target, at most one
    event a second (``every_s``) summing its lines: ``{"lb 172.18.0.7:18080": Stamped("marked
    failed: timed out (reading response header), 3 failures", 1234.567)}``. The subject is nginx's
    address (the watch names the member); the stamp is the event's own monotonic time: its first
    line's second, but not before the previous look (which did not see it) nor after this one.
    nginx's alerts about itself (a worker that died) come the same way, under the LB's name:
    ``{"lb-alert lb": Stamped("worker process exited on signal 9, 1 alert", ...)}``.
    The first call only finds where the log ends: what came before the watch is not news.
    """

    def __init__(self, stack: StackView, member: Member, *, every_s: float = 1.0) -> None:
        self.stack = stack
        self.member = member
        self.every_s = every_s
        self._offset: int | None = None  # bytes of the log read so far
        self._last = time.monotonic()  # when the last look that read the log began
        self._tallies: dict[str, list[Tally]] = {}

    def __call__(self) -> dict[str, Fact]:
        now = time.monotonic()
        self.add(self._new_lines(), since=self._last, now=now)
        self._last = now
        return self.due(now)

    def add(self, lines: list[str], *, since: float, now: float) -> None:
        """Count ``lines``, read by a look at ``now`` that the look at ``since`` had not seen."""
        to_mono = time.monotonic() - time.time()
        for line in lines:
            found = parse_line(line)
            if found is None:
                continue
            at = min(max(found.wall + to_mono, since), now)
            tallies = self._tallies.setdefault(found.peer, [])
            if not tallies or at >= tallies[-1].at + self.every_s:
                tallies.append(Tally(at, own=found.own))
            tallies[-1].add(found.what)

    def due(self, now: float) -> dict[str, Fact]:
        """The oldest tally of each target that is ``every_s`` old (or has a younger one), as a fact."""
        facts: dict[str, Fact] = {}
        for peer, tallies in self._tallies.items():
            if tallies and (len(tallies) > 1 or now - tallies[0].at >= self.every_s):
                tally = tallies.pop(0)
                name = f"{LB_ALERT} {self.member.alias}" if tally.own else f"lb {peer}"
                facts[name] = Stamped(tally.detail(), tally.at)
        return facts

    def _new_lines(self) -> list[str]:
        url = self.stack.url(self.member, VIEW_PORT, "/error.log")
        if self._offset is None:
            head = requests.head(url, timeout=1)
            head.raise_for_status()
            self._offset = int(head.headers.get("Content-Length", 0))
            return []
        last = self._offset + READ_AT_MOST - 1
        response = requests.get(url, headers={"Range": f"bytes={self._offset}-{last}"}, timeout=1)
        if response.status_code == 416:  # nothing new (or a new LB's log, shorter than what was read)
            self._offset = min(self._offset, int(response.headers.get("Content-Range", "/0").rpartition("/")[2]))
            return []
        response.raise_for_status()
        data = response.content if response.status_code == 206 else response.content[self._offset:]
        whole = data[: data.rfind(b"\n") + 1]  # a line still being written is read by the next look
        self._offset += len(whole)
        return whole.decode(errors="replace").splitlines()
