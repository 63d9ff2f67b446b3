"""Toxiproxy, one per AZ, on the links that faults degrade, and one regional for the test's clients.

Link names are stable: ``a/app->db`` and ``a/app->s3`` (the apps of AZ a to the
DB and S3 endpoints), ``a/lb->app-a-1`` (the load balancer to each app replica of
AZ a), and ``b/repl->db-a-1`` (the DB node of AZ b streaming WAL from db-a-1, when
it leads). The regional Toxiproxy carries the links of clients on the host,
``region/client->lb``, ``region/client->s3`` and ``region/client->db``: their
listening ports are published on 127.0.0.1 and offered as the endpoints ``client_lb``,
``client_s3`` and ``client_db``, so a boto3, psycopg or HTTP client in a test goes
through toxics. Toxiproxy's own proxy names are the same with ``/`` as ``.`` and
``->`` as ``_to_`` (``a.app_to_db``), since its API puts names in URLs.
"""

from __future__ import annotations

import json
from typing import Any

from ..model import REGIONAL, Link, Member, StackView
from .base import HTTP_200, Role, http_json

DB_LISTEN, S3_LISTEN, APP_LISTEN = 15432, 19000, 18080
#: the replication link to the n-th DB node listens on REPL_LISTEN + n, in every AZ
REPL_LISTEN = 15433
#: the listening ports of the client links: client->lb, client->s3, client->db
CLIENT_LISTEN = {"lb": 28080, "s3": 29000, "db": 25432}


def links(stack: StackView, proxies: list[Member]) -> list[Link]:
    """Return the links of ``proxies``, in a stable order."""
    found: list[Link] = []
    for proxy in proxies:
        found += client_links(stack, proxy) if proxy.az == REGIONAL else app_links(stack, proxy) + repl_links(
            stack, proxy)
    return found


def app_links(stack: StackView, proxy: Member) -> list[Link]:
    """The links of the apps of ``proxy``'s AZ: to the DB, to S3, and from the LB to each app."""
    apps = [m for m in stack.members(role="app") if m.az == proxy.az and not m.replacement
            and stack.topology.service(m.service).options.get("links")]
    if not apps:
        return []
    found: list[Link] = []
    app = stack.topology.service(apps[0].service)
    if app.options.get("db"):
        endpoint = stack.members(role="db-endpoint", service=app.options["db"])[0]
        found.append(Link(f"{proxy.az}/app->db", proxy.az, proxy.alias, DB_LISTEN,
                          f"{endpoint.alias}:{endpoint.port}"))
    if app.options.get("s3") and (s3 := s3_upstream(stack)):
        found.append(Link(f"{proxy.az}/app->s3", proxy.az, proxy.alias, S3_LISTEN, s3))
    for i, member in enumerate(apps):
        found.append(Link(f"{proxy.az}/lb->{member.alias}", proxy.az, proxy.alias, APP_LISTEN + i,
                          f"{member.alias}:{member.port}"))
    return found


def repl_links(stack: StackView, proxy: Member) -> list[Link]:
    """The replication links of ``proxy``'s AZ, where a DB node runs: one to each DB node.

    A standby streams from the leader's Patroni ``connect_address``, which is the alias of the
    link to the leader (``repl-db-a-1``). Every AZ's proxy answers to that alias on its own AZ's
    network, so each standby resolves it to the proxy of its own AZ: a toxic on ``b/repl->db-a-1``
    delays or breaks what AZ b's node receives from db-a-1, as an inter-AZ link would. The aliases
    live on AZ networks only, so a partition cuts the path where it cuts the direct one: the proxy
    reaches the leader over the regional network, which the cut-off AZ's members have left.
    """
    nodes = stack.members(role="db")
    if not any(m.az == proxy.az for m in nodes):
        return []
    return [Link(f"{proxy.az}/repl->{node.alias}", proxy.az, proxy.alias, REPL_LISTEN + i,
                 f"{node.alias}:{node.port}", alias=f"repl-{node.alias}", nemesis=False)
            for i, node in enumerate(nodes)]


def client_links(stack: StackView, proxy: Member) -> list[Link]:
    """The links of clients on the host to the regional endpoints: the LB, S3 and the DB writer."""
    upstreams: dict[str, str | None] = {"lb": None, "s3": s3_upstream(stack), "db": None}
    lbs = stack.members(role="lb")
    if lbs:
        upstreams["lb"] = f"{lbs[0].alias}:{lbs[0].port}"
    endpoints = stack.members(role="db-endpoint")
    if endpoints:
        upstreams["db"] = f"{endpoints[0].alias}:{endpoints[0].port}"
    return [Link(f"{REGIONAL}/client->{to}", REGIONAL, proxy.alias, CLIENT_LISTEN[to], upstream, nemesis=False)
            for to, upstream in upstreams.items() if upstream]


def s3_upstream(stack: StackView) -> str | None:
    """The regional S3 endpoint inside the region: the LB's S3 port, or None without one."""
    lbs = stack.members(role="lb")
    if not lbs:
        return None
    options = stack.topology.service(lbs[0].service).options
    return f"{lbs[0].alias}:{options['s3_port']}" if options.get("s3") else None


class ToxiproxyRole(Role):
    name = "toxiproxy"
    default_port = 8474
    order = 3
    #: the regional Toxiproxy of the client links comes with every toxiproxy service
    companions: tuple[str, ...] = ("toxiproxy-region",)

    def links(self, stack: StackView, members: list[Member]) -> list[Link]:
        return links(stack, members)

    def probe(self, stack: StackView, member: Member) -> str:
        return HTTP_200 % (member.port, "/proxies")

    def command(self, stack: StackView, member: Member) -> list[str]:
        return ["-host=0.0.0.0", f"-port={member.port}", "-config=/etc/toxiproxy.json"]

    def files(self, stack: StackView, member: Member) -> dict[str, str]:
        # Proxies come from a file, so a Toxiproxy that restarts (after a power
        # outage of its AZ) has its links back without help.
        mine = [{"name": link.proxy_name, "listen": f"0.0.0.0:{link.listen}", "upstream": link.upstream,
                 "enabled": True} for link in links(stack, [member])]
        return {"/etc/toxiproxy.json": json.dumps(mine, indent=2)}

    def not_ready(self, stack: StackView, members: list[Member]) -> list[str]:
        pending = []
        for member in members:
            proxies = http_json(stack.url(member, member.port, "/proxies")) or {}
            wanted = {link.proxy_name for link in links(stack, [member])}
            if not wanted <= set(proxies):
                pending.append(member.alias)
        return pending

    def status(self, stack: StackView, members: list[Member]) -> dict[str, Any]:
        return {"links": [link.name for link in links(stack, members)]}


class RegionalToxiproxyRole(ToxiproxyRole):
    """The regional Toxiproxy: the client links, published on 127.0.0.1 (no AZ can take it down)."""

    name = "toxiproxy-region"
    regional = True
    companions = ()
    endpoint_names = ("client_lb", "client_s3", "client_db")

    def ports(self, stack: StackView, member: Member) -> tuple[int, ...]:
        return (member.port, *sorted(CLIENT_LISTEN.values()))

    def endpoints(self, stack: StackView, members: list[Member]) -> dict[str, Any]:
        """``client_lb`` (a URL), ``client_s3`` (like ``s3``) and ``client_db`` (a DSN), through
        the client links."""
        if not members:
            return {}
        proxy = members[0]
        found: dict[str, Any] = {}
        for link in client_links(stack, proxy):
            to = link.name.rpartition(">")[2]
            found[f"client_{to}"] = client_endpoint(stack, to, stack.url(proxy, link.listen))
        return found


def client_endpoint(stack: StackView, to: str, url: str) -> Any:
    """The endpoint ``to`` ("lb", "s3", "db") as a client on the host uses it, at ``url``."""
    if to == "lb":
        return url
    port = url.rpartition(":")[2]
    if to == "db":
        return f"postgresql://postgres:{stack.secret('db_password')}@127.0.0.1:{port}/postgres"
    lb = stack.topology.service(stack.members(role="lb")[0].service)
    return {"url": url, "access_key": stack.secret("s3_access_key"), "secret_key": stack.secret("s3_secret_key"),
            "region": "us-east-1", "bucket": stack.topology.service(lb.options["s3"]).options["bucket"]}
