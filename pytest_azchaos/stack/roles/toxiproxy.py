"""Toxiproxy, one per AZ, on the links that faults degrade.

Link names are stable: ``a/app->db`` and ``a/app->s3`` (the apps of AZ a to the
DB and S3 endpoints), and ``a/lb->app-a-1`` (the load balancer to each app
replica of AZ a). Toxiproxy's own proxy names are the same with ``/`` as ``.``
and ``->`` as ``_to_`` (``a.app_to_db``), since its API puts names in URLs.
"""

from __future__ import annotations

import json
from typing import Any

from ..model import Link, Member, StackView
from .base import HTTP_200, Role, http_json

DB_LISTEN, S3_LISTEN, APP_LISTEN = 15432, 19000, 18080


def links(stack: StackView, proxies: list[Member]) -> list[Link]:
    """Return the links of ``proxies``, in a stable order."""
    found: list[Link] = []
    for proxy in proxies:
        apps = [m for m in stack.members(role="app") if m.az == proxy.az and not m.replacement
                and stack.topology.service(m.service).options.get("links")]
        if not apps:
            continue
        app = stack.topology.service(apps[0].service)
        if app.options.get("db"):
            endpoint = stack.members(role="db-endpoint", service=app.options["db"])[0]
            found.append(Link(f"{proxy.az}/app->db", proxy.az, proxy.alias, DB_LISTEN,
                              f"{endpoint.alias}:{endpoint.port}"))
        if app.options.get("s3"):
            lb = stack.topology.service(stack.members(role="lb")[0].service)
            found.append(Link(f"{proxy.az}/app->s3", proxy.az, proxy.alias, S3_LISTEN,
                              f"{stack.members(role='lb')[0].alias}:{lb.options['s3_port']}"))
        for i, member in enumerate(apps):
            found.append(Link(f"{proxy.az}/lb->{member.alias}", proxy.az, proxy.alias, APP_LISTEN + i,
                              f"{member.alias}:{member.port}"))
    return found


class ToxiproxyRole(Role):
    name = "toxiproxy"
    default_port = 8474
    order = 3

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
