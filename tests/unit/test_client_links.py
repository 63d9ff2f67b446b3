"""The client links: a regional Toxiproxy in front of the LB, S3 and DB endpoints the host reaches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_azchaos import ConfigError, Stack, load
from pytest_azchaos.faults.schedule import candidates
from pytest_azchaos.stack.roles import DECLARED, ROLES

ROOT = Path(__file__).resolve().parents[2]


class PublishedPorts:
    """A backend stand-in: every container runs, and port P is published on 30000 + P."""

    def state(self, name: str) -> str:
        return "running"

    def published_port(self, name: str, port: int) -> int:
        return 30000 + port


def stack(name: str = "default") -> Stack:
    return Stack(load(ROOT / "environments" / f"{name}.yaml"), backend=PublishedPorts(),  # type: ignore[arg-type]
                 run_id="r1", secrets_={"db_password": "pw", "replication_password": "rp",
                                        "s3_access_key": "ak", "s3_secret_key": "sk"})


def client_links(s: Stack) -> dict[str, tuple[str, int, str]]:
    return {k.name: (k.proxy, k.listen, k.upstream) for k in s.links() if k.name.startswith("region/")}


def test_the_default_region_has_a_client_link_to_each_regional_endpoint() -> None:
    assert client_links(stack()) == {
        "region/client->lb": ("toxiproxy", 28080, "lb:80"),
        "region/client->s3": ("toxiproxy", 29000, "lb:9000"),
        "region/client->db": ("toxiproxy", 25432, "db:5432"),
    }


def test_the_client_links_run_on_a_regional_toxiproxy_that_no_az_outage_takes_down() -> None:
    s = stack()
    proxy = s.member("toxiproxy")
    assert (proxy.role, proxy.az, proxy.container) == ("toxiproxy-region", "region", "azchaos-r1-toxiproxy")
    assert "toxiproxy-region" not in DECLARED  # it comes with the toxiproxy service
    assert s.members(az="a", role="toxiproxy-region") == []


def test_the_regional_toxiproxy_publishes_its_listening_ports_and_proxies_only_client_links() -> None:
    s = stack()
    proxy = s.member("toxiproxy")
    role = ROLES[proxy.role]
    assert set(role.ports(s, proxy)) == {8474, 28080, 29000, 25432}
    config = json.loads(role.files(s, proxy)["/etc/toxiproxy.json"])
    assert {p["name"]: p["upstream"] for p in config} == {
        "region.client_to_lb": "lb:80", "region.client_to_s3": "lb:9000", "region.client_to_db": "db:5432"}
    per_az = s.member("toxiproxy-a-1")
    proxies = json.loads(ROLES["toxiproxy"].files(s, per_az)["/etc/toxiproxy.json"])
    assert proxies and not any("client" in p["name"] for p in proxies)


def test_the_stack_gives_the_client_endpoints_on_127_0_0_1() -> None:
    found = stack().endpoints()
    assert found["client_lb"] == "http://127.0.0.1:58080"
    assert found["client_db"] == "postgresql://postgres:pw@127.0.0.1:55432/postgres"
    assert found["client_s3"] == {"url": "http://127.0.0.1:59000", "access_key": "ak", "secret_key": "sk",
                                  "region": "us-east-1", "bucket": "azchaos"}
    assert found["s3"]["url"] != found["client_s3"]["url"]  # the direct endpoint stays
    assert stack().endpoint("client_s3") == found["client_s3"]


def test_a_region_without_toxiproxy_has_no_client_links() -> None:
    s = stack("minimal")
    assert s.links() == [] and "client_lb" not in s.endpoints()


def test_the_random_nemesis_leaves_the_client_links_alone() -> None:
    subjects = [f.subject for f in candidates(stack())]
    assert any("a/app->s3" in subject for subject in subjects)
    assert not any("client->" in subject for subject in subjects)


def test_a_member_is_found_by_its_alias_and_an_unknown_alias_names_those_there_are() -> None:
    s = stack()
    assert (s.member("app-b-1").role, s.member("app-b-1").az) == ("app", "b")
    with pytest.raises(ConfigError, match=r"no member 'app-z-1': expected one of .*app-a-1.*toxiproxy-b-1"):
        s.member("app-z-1")
