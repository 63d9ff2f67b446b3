"""PostgreSQL with automatic failover: Patroni nodes in two (or three) AZs, and one endpoint.

The endpoint is HAProxy, the standard Patroni deployment: it health-checks each
node's Patroni REST API (``GET /primary``) and sends connections only to the
leader, so it follows a failover like the RDS endpoint does.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from typing import Any

import requests

from ...errors import StackError
from ..model import NO_SYNC, Fact, Look, Measured, Member, ServiceSpec, StackView
from .base import HTTP_200, TCP_OPEN, Role, http_json, http_ok

PATRONI_PORT = 8008
DATA_DIR = "/var/lib/postgresql/data"
# The node's watchdog, a named pipe read by the image's watchdog.py (its docstring says why).
WATCHDOG = "/run/postgresql/watchdog"
WATCHDOG_MARGIN_S = 8  # with the default ttl of 20 s, PostgreSQL dies 12 s after the last renewal
PATRONI_MIN_TTL_S = 20  # Patroni 4 raises a lower ttl to this


def patroni_config(stack: StackView, member: Member) -> dict[str, Any]:
    """Return the Patroni configuration of one node (JSON is YAML, so no YAML writer is needed)."""
    spec = stack.topology.service(member.service)
    opts = spec.options
    etcd = stack.members(service=opts["dcs"])
    return {
        "scope": f"azchaos-{stack.run_id}",
        "name": member.alias,
        "restapi": {"listen": f"0.0.0.0:{PATRONI_PORT}", "connect_address": f"{member.alias}:{PATRONI_PORT}"},
        "etcd3": {"hosts": [f"{m.alias}:{m.port}" for m in etcd]},
        "bootstrap": {
            "dcs": {
                # Failover within ttl + loop_wait after the leader is lost; Patroni needs
                # loop_wait + 2 * retry_timeout <= ttl.
                "ttl": int(opts["ttl"]),
                "loop_wait": max(1, int(opts["loop_wait"])),
                "retry_timeout": int(opts["retry_timeout"]),
                "maximum_lag_on_failover": 1048576,
                "synchronous_mode": bool(opts["synchronous"]),
                "synchronous_mode_strict": bool(opts["strict"]),
                "postgresql": {
                    "use_pg_rewind": True,
                    "use_slots": True,
                    "parameters": {"wal_level": "replica", "hot_standby": "on", "wal_log_hints": "on",
                                   "max_wal_senders": 10, "max_replication_slots": 10,
                                   "max_connections": 200, "shared_buffers": "32MB",
                                   # A standby that hangs (its AZ frozen) keeps its TCP connection
                                   # open, so the primary would wait on it for every commit until
                                   # the default 60 s; after 5 s without an answer the walsender
                                   # drops it, Patroni sees no streaming sync standby, and commits
                                   # go on (strict: false) or wait for one (strict: true).
                                   "wal_sender_timeout": "5s"},
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C"}],
        },
        "postgresql": {
            "listen": f"0.0.0.0:{member.port}",
            "connect_address": replication_address(stack, member),
            "data_dir": DATA_DIR,
            "bin_dir": "/usr/lib/postgresql/15/bin",
            "authentication": {
                "superuser": {"username": "postgres", "password": stack.secret("db_password")},
                "replication": {"username": "replicator", "password": stack.secret("replication_password")},
                "rewind": {"username": "postgres", "password": stack.secret("db_password")},
            },
            # A new standby copies the primary at once, not after a spread checkpoint.
            "basebackup": [{"checkpoint": "fast"}],
            "pg_hba": ["local all all trust", "host replication replicator 0.0.0.0/0 md5",
                       "host all all 0.0.0.0/0 md5"],
        },
        # Fencing that does not depend on Patroni's loop keeping time: the leader arms the watchdog
        # for ttl - safety_margin and pings it after each renewal of its key; when the pings stop
        # (cut off from etcd, or a loop stalled on a starved host) PostgreSQL is killed that much
        # before the key can expire and the other side promote. The margin also covers a renewal
        # whose answer came late (the key's time runs from etcd's commit, the ping's from the
        # answer). A healthy leader renews within loop_wait + retry_timeout, well inside the
        # watchdog's time. "required": a node whose watchdog cannot be armed does not lead.
        "watchdog": {"mode": "required", "driver": "testing", "device": WATCHDOG,
                     "safety_margin": WATCHDOG_MARGIN_S},
        "tags": {"az": member.az},
    }


def replication_address(stack: StackView, member: Member) -> str:
    """Where the other nodes reach ``member`` to stream WAL from it, copy it or rewind against it
    (Patroni's ``connect_address``): the alias of the replication links to it (``repl-db-a-1``),
    which each node resolves to the proxy of its own AZ, so that faults on ``b/repl->db-a-1`` reach
    the replication stream. Directly when some node's AZ has no such link (a region without
    Toxiproxy): a node must never name an address it cannot resolve."""
    links = [k for k in stack.links() if k.alias and k.upstream == f"{member.alias}:{member.port}"]
    if links and {m.az for m in stack.members(role="db", service=member.service)} <= {k.az for k in links}:
        return links[0].address  # the same alias and port in every AZ
    return f"{member.alias}:{member.port}"


class DbRole(Role):
    name = "db"
    default_port = 5432
    order = 1
    options = {"dcs": None, "endpoint_image": "haproxy", "synchronous": True, "strict": False,
               "ttl": "20s", "loop_wait": "1s", "retry_timeout": "8s", "password": None}
    durations = frozenset({"ttl", "loop_wait", "retry_timeout"})
    references = {"dcs": "etcd"}
    required = frozenset({"dcs"})
    most_services = 1
    has_primaries = True
    companions = ("db-endpoint",)  # one endpoint that follows the leader, like the RDS endpoint
    extra_ports = (PATRONI_PORT,)

    def default_azs(self, azs: tuple[str, ...]) -> tuple[str, ...]:
        return azs[:2]  # a primary and its standby, like RDS Multi-AZ

    def check(self, spec: ServiceSpec) -> str | None:
        """Patroni's timings must leave the watchdog its margin: a healthy leader renews its key
        within loop_wait + retry_timeout, and the watchdog kills PostgreSQL WATCHDOG_MARGIN_S
        before the key (ttl, at least 20 s in Patroni 4) expires; 2 s are left for the loop."""
        opts = spec.options
        ttl = max(PATRONI_MIN_TTL_S, int(opts["ttl"]))
        renewal = max(1, int(opts["loop_wait"])) + int(opts["retry_timeout"])
        if renewal + 2 > ttl - WATCHDOG_MARGIN_S:
            return (f"retry_timeout: loop_wait + retry_timeout ({renewal} s) must stay 2 s under "
                    f"ttl - {WATCHDOG_MARGIN_S} s ({ttl - WATCHDOG_MARGIN_S} s), when the watchdog "
                    f"stops a leader that has not renewed its key; raise ttl or lower retry_timeout")
        return None

    @staticmethod
    def sql_command(sql: str) -> list[str]:
        """psql on the node's own socket as the superuser: unaligned, tuples only, stop at an error."""
        return ["psql", "-X", "-q", "-t", "-A", "-U", "postgres", "-h", "/run/postgresql",
                "-v", "ON_ERROR_STOP=1", "-c", sql]

    def start_stage(self, stack: StackView, member: Member) -> int:
        """The first node (AZ a) must win Patroni's bootstrap race to be the primary, as the
        environment declares: the others start once it holds the cluster's initialize key in etcd
        (they then wait for it to lead, and copy it)."""
        return 0 if member == stack.members(role="db", service=member.service)[0] else 1

    def stage_started(self, stack: StackView, members: list[Member]) -> bool:
        first = [m for m in members if self.start_stage(stack, m) == 0]
        return all(self.initializing(stack, m) for m in first)

    def primaries(self, stack: StackView, members: list[Member]) -> list[Member]:
        found = []
        for service in dict.fromkeys(m.service for m in members):
            leader = self.view(stack, service)[0]
            found += [m for m in members if m.alias == leader]
        return found

    def looks(self, stack: StackView, members: list[Member]) -> list[Look]:
        """The leader (a change is a failover), and each standby's replication and sync state."""
        services = list(dict.fromkeys(m.service for m in members))
        return [lambda: {k: v for s in services for k, v in self._leader_facts(stack, s).items()},
                lambda: {k: v for s in services for k, v in self._replication_facts(stack, s).items()}]

    def _leader_facts(self, stack: StackView, service: str) -> dict[str, str]:
        cluster = self.cluster(stack, stack.members(role="db", service=service)) or {}
        leader = next((n.get("name") for n in cluster.get("members", [])
                       if n.get("role") == "leader" and n.get("state") == "running"), None)
        return {f"leader {service}": leader or "none"}

    def _replication_facts(self, stack: StackView, service: str) -> dict[str, Fact]:
        """Each standby's replication and sync state, with its lag (a change of lag alone is no event)."""
        leader, nodes, replication = self.view(stack, service)
        if leader is None:  # no leader, no replication to look at (the leader look records that)
            return {}
        facts: dict[str, Fact] = {}
        for name, node in nodes.items():
            if name != leader:
                repl = replication.get(name, {})
                lag = node.get("lag")
                state = f"{repl.get('state') or node.get('state')} {repl.get('sync_state') or node.get('role')}"
                measured = Measured(state, f"lag {lag} B") if isinstance(lag, int) else state
                facts[f"replication {service}/{name}"] = measured
        synced = _streaming_sync(nodes, replication)
        # An asynchronous DB never has one: every write it acknowledges can be lost with the
        # primary, and a lost-writes verdict must say so rather than blame nothing.
        facts[f"sync {service}"] = f"sync standby {synced[0]}" if synced else NO_SYNC
        return facts

    def not_steady(self, stack: StackView, members: list[Member]) -> list[str]:
        reasons = []
        for service in dict.fromkeys(m.service for m in members):
            leader, nodes, replication = self.view(stack, service)
            if leader is None:
                reasons.append(f"{service}: no leader")
                continue
            if not stack.topology.service(service).options.get("synchronous"):
                continue
            recorded = [name for name, n in nodes.items() if n.get("role") == "sync_standby"]
            if not _streaming_sync(nodes, replication):
                why = (f"{', '.join(recorded)} recorded but not streaming" if recorded
                       else f"standbys: {_standbys(nodes, replication, leader)}")
                reasons.append(f"{service}: {NO_SYNC} ({why})")
        return reasons

    def probe(self, stack: StackView, member: Member) -> str:
        """The first node bootstraps as the leader; the second is the sync standby when synchronous."""
        nodes = stack.members(role="db", service=member.service)
        synchronous = stack.topology.service(member.service).options["synchronous"]
        path = "/primary" if member == nodes[0] else "/sync" if synchronous and member == nodes[1] else "/replica"
        return HTTP_200 % (PATRONI_PORT, path)

    def depends_on(self, stack: StackView, member: Member) -> dict[str, dict[str, str]]:
        first = stack.members(role="db", service=member.service)[0]
        return {} if member == first else {first.alias: {"condition": "service_healthy"}}

    def files(self, stack: StackView, member: Member) -> dict[str, str]:
        return {"/etc/patroni/patroni.yml": json.dumps(patroni_config(stack, member), indent=2)}

    def cluster(self, stack: StackView, members: list[Member]) -> dict[str, Any] | None:
        """Return Patroni's view of the cluster (GET /cluster), asked of any running node."""
        for member in members:
            if stack.is_running(member):
                found = http_json(stack.url(member, PATRONI_PORT, "/cluster"))
                if found:
                    return dict(found)
        return None

    def initializing(self, stack: StackView, member: Member) -> bool:
        """Return True once a node holds (or held) the cluster's initialize key in etcd."""
        if self.leads(stack, member):
            return True
        key = base64.b64encode(f"/service/azchaos-{stack.run_id}/initialize".encode()).decode()
        for etcd in stack.members(service=stack.topology.service(member.service).options["dcs"]):
            try:
                found = requests.post(stack.url(etcd, etcd.port, "/v3/kv/range"), json={"key": key}, timeout=1)
                if found.ok:
                    return bool(found.json().get("kvs"))
            except (requests.RequestException, ValueError, StackError):
                continue
        return False

    def leads(self, stack: StackView, member: Member) -> bool:
        """Return True if ``member`` is the Patroni leader (its REST API answers 200 on /primary)."""
        try:
            return http_ok(stack.url(member, PATRONI_PORT, "/primary"))
        except StackError:
            return False

    def view(self, stack: StackView, service: str) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
        """Return (leader, nodes by name from /cluster, replication by standby name from the leader).

        Patroni 3.0 reports a replica as "running" whether or not it streams; the
        leader's ``GET /patroni`` lists pg_stat_replication, which says "streaming".
        """
        every = stack.members(role="db", service=service)
        nodes = {n.get("name"): n for n in (self.cluster(stack, every) or {}).get("members", [])}
        leader = next((name for name, n in nodes.items()
                       if n.get("role") == "leader" and n.get("state") == "running"), None)
        replication: dict[str, Any] = {}
        leading = next((m for m in every if m.alias == leader), None)
        if leading is not None:
            info = http_json(stack.url(leading, PATRONI_PORT, "/patroni")) or {}
            replication = {r.get("application_name"): r for r in info.get("replication", [])}
        return leader, nodes, replication

    def not_ready(self, stack: StackView, members: list[Member]) -> list[str]:
        """Ready: a leader, each of ``members`` leading or streaming, and a sync standby when one can be."""
        leader, nodes, replication = self.view(stack, members[0].service)
        if leader is None:
            return ["db: no Patroni leader yet"]
        pending = [f"db: {m.alias} not streaming yet" for m in members
                   if m.alias != leader and replication.get(m.alias, {}).get("state") != "streaming"]
        synchronous = stack.topology.service(members[0].service).options["synchronous"]
        running = [m for m in stack.members(role="db", service=members[0].service) if stack.is_running(m)]
        # Only the standby Patroni has recorded as synchronous (in etcd) may be promoted: a
        # standby that streams synchronously but is not recorded yet could not take over.
        if synchronous and len(running) >= 2 and not _streaming_sync(nodes, replication):
            pending.append("db: no synchronous standby yet")
        return pending

    def status(self, stack: StackView, members: list[Member]) -> dict[str, Any]:
        if not members:
            return {}
        leader, nodes, replication = self.view(stack, members[0].service)
        rows = []
        for name, n in nodes.items():
            repl = replication.get(name, {})
            rows.append({"name": name, "az": (n.get("tags") or {}).get("az"), "role": n.get("role"),
                         "state": repl.get("state", n.get("state")), "sync_state": repl.get("sync_state"),
                         "lag_bytes": n.get("lag"), "timeline": n.get("timeline")})
        return {"leader": leader, "nodes": rows}


class DbEndpointRole(Role):
    """The one DB endpoint (HAProxy) that follows the Patroni leader."""

    name = "db-endpoint"
    default_port = 5432
    order = 1
    regional = True
    endpoint_names = ("db", "db_reader")

    def image(self, spec: ServiceSpec) -> str:
        return str(spec.options["endpoint_image"])

    def endpoints(self, stack: StackView, members: list[Member]) -> dict[str, Any]:
        """The writer (follows the primary) and the reader (any running node), like RDS's."""
        if not members:
            return {}
        return {"db": dsn(stack, members[0]), "db_reader": dsn(stack, members[0], reader=True)}

    def probe(self, stack: StackView, member: Member) -> str:
        return TCP_OPEN % member.port

    def ports(self, stack: StackView, member: Member) -> tuple[int, ...]:
        """The writer endpoint and the reader endpoint, both published for psql or pgbench, and
        HAProxy's statistics (what the watch reads)."""
        return (member.port, member.port + READ_ONLY_OFFSET, STATS_PORT)

    def looks(self, stack: StackView, members: list[Member]) -> list[Look]:
        """Which node the writer endpoint sends to, and which nodes it has marked down."""
        return [lambda: {k: v for m in members for k, v in endpoint_facts(stack, m).items()}]

    def command(self, stack: StackView, member: Member) -> list[str]:
        return ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]

    def files(self, stack: StackView, member: Member) -> dict[str, str]:
        nodes = stack.members(role="db", service=member.service)
        servers = "\n".join(
            f"    server {m.alias} {m.alias}:{m.port} check port {PATRONI_PORT} "
            "resolvers docker init-addr last,libc,none" for m in nodes
        )
        config = HAPROXY_CFG.format(port=member.port, read_port=member.port + READ_ONLY_OFFSET, servers=servers)
        return {"/usr/local/etc/haproxy/haproxy.cfg": config}

    def not_ready(self, stack: StackView, members: list[Member]) -> list[str]:
        return [m.alias for m in members if not writable(stack, m)]


def dsn(stack: StackView, endpoint: Member, *, reader: bool = False) -> str:
    """A PostgreSQL DSN of the DB endpoint on 127.0.0.1: the writer, or with ``reader`` the
    reader endpoint (any running node, possibly stale, like an RDS reader endpoint)."""
    port = stack.host_port(endpoint, endpoint.port + READ_ONLY_OFFSET if reader else None)
    return f"postgresql://postgres:{stack.secret('db_password')}@127.0.0.1:{port}/postgres"


def writable(stack: StackView, endpoint: Member) -> bool:
    """Return True if the DB endpoint accepts a connection to a primary (not in recovery)."""
    import psycopg

    try:
        with psycopg.connect(dsn(stack, endpoint), connect_timeout=2) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            return row is not None and row[0] is False
    except psycopg.Error:
        return False


def _streaming_sync(nodes: dict[str, Any], replication: dict[str, Any]) -> list[str]:
    """The standbys Patroni recorded as synchronous that also stream now."""
    return [name for name, n in nodes.items()
            if n.get("role") == "sync_standby" and replication.get(name, {}).get("state") == "streaming"]


def _standbys(nodes: dict[str, Any], replication: dict[str, Any], leader: str) -> str:
    found = [f"{name} {replication.get(name, {}).get('state') or n.get('state')}"
             f"/{replication.get(name, {}).get('sync_state') or n.get('role')}"
             for name, n in nodes.items() if name != leader]
    return ", ".join(found) or "none"


STATS_PORT = 8404  # HAProxy's statistics page: /stats;csv


def endpoint_facts(stack: StackView, endpoint: Member) -> dict[str, str]:
    """The endpoint's view, from HAProxy's statistics: ``{"endpoint db": "to db-b-1",
    "marked-down db": "db-a-1"}`` (``to none`` while no node passes the primary check)."""
    try:
        response = requests.get(stack.url(endpoint, STATS_PORT, "/stats;csv"), timeout=1)
        response.raise_for_status()
    except (requests.RequestException, StackError):
        return {}  # the endpoint is down or hangs: nothing seen, nothing to record
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("# "))))
    servers = [r for r in rows if r.get("pxname") == "primary" and r.get("svname") not in ("FRONTEND", "BACKEND")]
    up = sorted(r["svname"] for r in servers if str(r.get("status", "")).startswith("UP"))
    down = sorted(r["svname"] for r in servers if str(r.get("status", "")).startswith(("DOWN", "MAINT")))
    return {f"endpoint {endpoint.service}": f"to {', '.join(up) or 'none'}",
            f"marked-down {endpoint.service}": ", ".join(down) or "none"}


READ_ONLY_OFFSET = 1  # the read-only listener is on the endpoint's port + 1 (5433), like Patroni's template

HAPROXY_CFG = """\
# The DB endpoint, rendered by pytest-azchaos (roles/db.py): only the Patroni leader
# answers 200 on GET /primary, so connections go to the primary wherever it is.
global
    maxconn 2000
    # To the container's log: server state changes and failed connections only.
    log stdout format raw local0 info

# Names are re-resolved every second (a restarted or reconnected container gets a new address:
# "hold obsolete" stays 0, or the old address would be kept as long as it is held), but a name
# that stops resolving (a stopped or cut-off node) keeps its last address: the node stays under
# its health checks and is DOWN. Were the name dropped, the server would go to maintenance and,
# once the name resolved again, come back READY from DNS before any check, and take connections.
resolvers docker
    nameserver dns 127.0.0.11:53
    timeout resolve 1s
    hold valid 1s
    hold nx 24h
    hold timeout 24h
    hold refused 24h
    hold other 24h

defaults
    mode tcp
    log global
    option tcplog
    option dontlog-normal
    # A connection to a node that just died (not yet marked down) goes to another one at once:
    # every retry is redispatched, after a connect timeout well below the clients' (2 s).
    option redispatch 1
    retries 2
    timeout connect 500ms
    timeout client 30m
    timeout server 30m
    timeout check 1s

listen primary
    bind *:{port}
    # Patroni answers 200 on /primary as soon as a node holds the leader lock, also while its
    # Postgres is still starting or promoting (and refuses writes). The body says what Postgres
    # itself reports: only a node that runs and is out of recovery takes writes.
    option httpchk
    http-check send meth GET uri /primary
    http-check expect status 200
    http-check expect rstring '"state": ?"running"'
    http-check expect rstring '"role": ?"primary"'
    # Check twice a second; a demoted or dead node is out after 2 failures and its
    # open sessions are cut, so clients reconnect to the new primary.
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
{servers}

# What the watch reads: which node the writer endpoint sends to, which it has marked down.
listen stats
    bind *:8404
    mode http
    stats enable
    stats uri /stats
    stats refresh 1s

# Reads may go to any running node, the leader or a replica (GET /read-only answers 200
# on both), like a reader endpoint: they keep working while the primary fails over.
listen read-only
    bind *:{read_port}
    balance leastconn
    option httpchk GET /read-only
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
{servers}
"""
