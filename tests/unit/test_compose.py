from __future__ import annotations

from pathlib import Path

import yaml

from pytest_azchaos import Stack, load
from pytest_azchaos.compose import export

ROOT = Path(__file__).resolve().parents[2]


def exported(name: str) -> dict:  # type: ignore[type-arg]
    stack = Stack(load(ROOT / "environments" / f"{name}.yaml"), backend=object(), run_id="r1")  # type: ignore[arg-type]
    refs = {key: f"img/{key[1]}" for key in stack.image_names()}
    return yaml.safe_load(export(stack, refs))  # type: ignore[no-any-return]


def test_default_region_as_compose() -> None:
    doc = exported("default")
    services = doc["services"]
    assert len(services) == 17  # with the regional Toxiproxy of the client links
    assert set(doc["networks"]) == {"region", "a", "b", "c"}
    for service in services.values():
        assert service["ports"] and all(port.startswith("127.0.0.1::") for port in service["ports"])
        assert service["healthcheck"]["interval"] == "1s"
    assert services["db-b-1"]["depends_on"] == {"db-a-1": {"condition": "service_healthy"}}
    assert "app-a-1" in services["lb"]["depends_on"]
    assert services["app-a-1"]["networks"] == {"region": {"aliases": ["app-a-1"]}, "a": {"aliases": ["app-a-1"]}}
    assert services["app-a-1"]["environment"]["DATABASE_URL"].endswith("@toxiproxy-a-1:15432/postgres")
    patroni = [c for c in services["db-a-1"]["configs"] if c["target"] == "/etc/patroni/patroni.yml"]
    assert patroni and '"name": "db-a-1"' in doc["configs"][patroni[0]["source"]]["content"]


def test_minimal_as_compose() -> None:
    services = exported("minimal")["services"]
    assert sorted(services) == ["app-a-1", "app-a-2", "app-b-1", "app-b-2", "lb"]
    assert services["lb"]["image"] == "img/lb"
