"""The LB's overload limits: a share per target, and the region's limit the sum of the shares."""

from __future__ import annotations

import re
from pathlib import Path

from pytest_azchaos import Stack, load
from pytest_azchaos.stack.roles.lb import IN_FLIGHT_PER_TARGET, render

SHARE = IN_FLIGHT_PER_TARGET * 3 // 2  # the region's budget over the 2 targets left when an AZ is lost

DEFAULT = Path(__file__).resolve().parents[2] / "environments" / "default.yaml"


def rendered(running: set[str] | None = None) -> str:
    stack = Stack(load(DEFAULT), backend=object())  # type: ignore[arg-type]
    return render(stack, stack.topology.service("lb"), running=running)


def app_servers(conf: str) -> list[str]:
    upstream = conf.split("upstream app {", 1)[1].split("}", 1)[0]
    return [line.strip() for line in upstream.splitlines()
            if line.strip().startswith("server ") and " backup" not in line]


def test_a_target_holds_its_share_and_the_targets_of_two_azs_hold_the_whole_region() -> None:
    conf = rendered()
    servers = app_servers(conf)
    assert len(servers) == 3
    assert all(f"max_conns={SHARE};" in line for line in servers)
    assert re.search(rf"limit_conn region_in_flight {3 * IN_FLIGHT_PER_TARGET};", conf)


def test_the_region_admits_less_while_a_target_is_out() -> None:
    stack = Stack(load(DEFAULT), backend=object())  # type: ignore[arg-type]
    running = {m.container for m in stack.members_all if m.alias != "app-a-1"}
    conf = render(stack, stack.topology.service("lb"), running=running)
    assert [f"max_conns={SHARE};" in line for line in app_servers(conf)] == [True, True]
    assert re.search(rf"limit_conn region_in_flight {2 * IN_FLIGHT_PER_TARGET};", conf)


def test_overload_is_a_503_with_retry_after_and_s3_nodes_have_no_share() -> None:
    conf = rendered()
    overload = conf.split("location @overload {", 1)[1].split("}", 1)[0]
    assert "add_header Retry-After 1 always;" in overload
    assert "return 503" in overload
    assert "error_page 503 = @overload;" in conf
    s3 = conf.split("upstream s3 {", 1)[1].split("}", 1)[0]
    assert "max_conns" not in s3
