"""Integration tests start real stacks: they need a Docker engine (scripts/ensure-docker.sh)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from pytest_azchaos import Stack, load
from pytest_azchaos.backend import LABEL_RUN

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"integration tests need a Docker engine (run scripts/ensure-docker.sh): {exc}")
    return client


def azchaos_objects(client: docker.DockerClient) -> set[str]:
    """Every container, network and volume labelled azchaos.run, by name."""
    selector = {"label": LABEL_RUN}
    found = {c["Names"][0] for c in client.api.containers(all=True, filters=selector)}
    found |= {n.name for n in client.networks.list(filters=selector)}
    found |= {v.name for v in client.volumes.list(filters=selector)}
    return found


@pytest.fixture
def leaves_nothing_behind(docker_client: docker.DockerClient) -> Iterator[None]:
    """Fail the test if it leaves any labelled container, network or volume behind."""
    before = azchaos_objects(docker_client)
    yield
    left = azchaos_objects(docker_client) - before
    assert not left, f"left behind: {sorted(left)}"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The default region, shared by the tests of one module (a module may define its own)."""
    running = Stack(load(ROOT / "environments" / "default.yaml"), progress=lambda m: print(f"azchaos: {m}")).up()
    yield running
    running.down()


@pytest.fixture
def s3_client() -> Callable[[Stack, str], Any]:
    """Make a boto3 client of one S3 node (that of AZ ``az``), as a test that loses another AZ needs:
    the region's S3 endpoint would route around the loss itself. One attempt per call, short timeouts."""
    import boto3
    from botocore.config import Config

    def make(stack: Stack, az: str) -> Any:
        node = stack.members(service="s3", az=az)[0]
        return boto3.client("s3", endpoint_url=stack.url(node, node.port), region_name="us-east-1",
                            aws_access_key_id=stack.secret("s3_access_key"),
                            aws_secret_access_key=stack.secret("s3_secret_key"),
                            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}))
    return make
