"""The replication links: each DB node streams from the leader through the Toxiproxy of its own AZ,
so that a toxic on ``b/repl->db-a-1`` reaches the replication stream (examples/scenarios/test_08)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_azchaos import Stack, load
from pytest_azchaos.faults.schedule import candidates
from pytest_azchaos.stack.compose import export
from pytest_azchaos.stack.model import Member
from pytest_azchaos.stack.roles.db import patroni_config

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"db_password": "pw", "replication_password": "rp", "s3_access_key": "ak", "s3_secret_key": "sk"}


class PublishedPorts:
    """A backend stand-in: every container runs, and port P is published on 30000 + P."""

    def state(self, name: str) -> str:
        return "running"

    def published_port(self, name: str, port: int) -> int:
        return 30000 + port


def stack(path: Path) -> Stack:
    return Stack(load(path), backend=PublishedPorts(), run_id="r1", secrets_=SECRETS)  # type: ignore[arg-type]


def region(tmp_path: Path, db_azs: str = "[a, b]", proxy_azs: str = "") -> Stack:
    """The default region, with the DB in ``db_azs`` and Toxiproxy in ``proxy_azs`` (every AZ if empty)."""
    text = (ROOT / "environments" / "default.yaml").read_text().replace(
        "azs: [a, b]             # add c", f"azs: {db_azs}  # add c")
    if proxy_azs:
        text = text.replace("    image: toxiproxy\n", f"    image: toxiproxy\n    azs: {proxy_azs}\n")
    path = tmp_path / "default.yaml"
    path.write_text(text)
    return stack(path)


def repl(s: Stack) -> dict[str, tuple[str, int, str, str]]:
    return {k.name: (k.proxy, k.listen, k.upstream, k.alias) for k in s.links() if "/repl->" in k.name}


def node(s: Stack, alias: str) -> Member:
    return next(m for m in s.members_all if m.alias == alias)


def test_each_az_with_a_db_node_has_a_link_to_every_node(tmp_path: Path) -> None:
    assert repl(region(tmp_path)) == {
        "a/repl->db-a-1": ("toxiproxy-a-1", 15433, "db-a-1:5432", "repl-db-a-1"),
        "a/repl->db-b-1": ("toxiproxy-a-1", 15434, "db-b-1:5432", "repl-db-b-1"),
        "b/repl->db-a-1": ("toxiproxy-b-1", 15433, "db-a-1:5432", "repl-db-a-1"),
        "b/repl->db-b-1": ("toxiproxy-b-1", 15434, "db-b-1:5432", "repl-db-b-1"),
    }  # AZ c holds no DB node: no replication crosses into it


def test_patroni_names_each_node_by_the_alias_of_the_links_to_it(tmp_path: Path) -> None:
    s = region(tmp_path)
    config = patroni_config(s, node(s, "db-b-1"))
    assert config["postgresql"]["connect_address"] == "repl-db-b-1:15434"
    assert config["postgresql"]["listen"] == "0.0.0.0:5432"
    assert config["restapi"]["connect_address"] == "db-b-1:8008"  # Patroni's API stays direct


def test_each_proxy_answers_to_the_aliases_on_its_own_az_network_only(tmp_path: Path) -> None:
    s = region(tmp_path)
    networks = dict(s._container_spec(node(s, "toxiproxy-b-1"), "toxiproxy").networks)
    assert networks == {"azchaos-r1-b": ["toxiproxy-b-1", "repl-db-a-1", "repl-db-b-1"],
                        "azchaos-r1-region": ["toxiproxy-b-1"]}
    assert dict(s._container_spec(node(s, "toxiproxy-c-1"), "toxiproxy").networks)["azchaos-r1-c"] == [
        "toxiproxy-c-1"]
    services = yaml.safe_load(export(s, {key: "img" for key in s.image_names()}))["services"]
    assert services["toxiproxy-a-1"]["networks"]["a"]["aliases"] == ["toxiproxy-a-1", "repl-db-a-1", "repl-db-b-1"]
    assert services["toxiproxy-a-1"]["networks"]["region"]["aliases"] == ["toxiproxy-a-1"]


def test_a_three_node_cluster_has_links_into_every_az(tmp_path: Path) -> None:
    s = region(tmp_path, "[a, b, c]")
    assert sorted({name.partition("/")[0] for name in repl(s)}) == ["a", "b", "c"]
    assert patroni_config(s, node(s, "db-c-1"))["postgresql"]["connect_address"] == "repl-db-c-1:15435"


@pytest.mark.parametrize("proxy_azs", ["[a]", "[a, c]"])
def test_a_node_whose_az_has_no_proxy_is_reached_directly(tmp_path: Path, proxy_azs: str) -> None:
    # AZ b's node could not resolve repl-db-a-1: every node is named directly then
    s = region(tmp_path, proxy_azs=proxy_azs)
    for alias in ("db-a-1", "db-b-1"):
        assert patroni_config(s, node(s, alias))["postgresql"]["connect_address"] == f"{alias}:5432"


def test_a_region_without_toxiproxy_streams_directly(tmp_path: Path) -> None:
    text = (ROOT / "environments" / "default.yaml").read_text()
    path = tmp_path / "no-proxy.yaml"
    path.write_text(text.replace("  toxiproxy:\n    role: toxiproxy\n    image: toxiproxy\n", ""))
    s = stack(path)
    assert s.links() == [] and len(s.members(role="db")) == 2
    for member in s.members(role="db"):
        assert patroni_config(s, member)["postgresql"]["connect_address"] == f"{member.alias}:{member.port}"


def test_the_random_nemesis_leaves_the_replication_links_alone(tmp_path: Path) -> None:
    subjects = [f.subject for f in candidates(region(tmp_path))]
    assert any("a/app->db" in subject for subject in subjects)
    assert not any("repl->" in subject for subject in subjects)
