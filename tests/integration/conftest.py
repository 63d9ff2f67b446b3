"""Integration tests start real stacks: they need a Docker engine (scripts/ensure-docker.sh)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from pytest_azchaos import Stack, load
from pytest_azchaos.backend import LABEL_OWNER, LABEL_RUN
from pytest_azchaos.stack.owner import owner_dead, owner_pid

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


def azchaos_objects(client: docker.DockerClient) -> dict[str, str]:
    """Every container, network and volume labelled azchaos.run: its owner label, by name."""
    selector = {"label": LABEL_RUN}
    found = {c["Names"][0]: c["Labels"].get(LABEL_OWNER, "") for c in client.api.containers(all=True, filters=selector)}
    found |= {n["Name"]: (n["Labels"] or {}).get(LABEL_OWNER, "") for n in client.api.networks(filters=selector)}
    found |= {v["Name"]: (v["Labels"] or {}).get(LABEL_OWNER, "")
              for v in client.api.volumes(filters=selector).get("Volumes") or []}
    return found


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def someone_elses(owner: str) -> bool:
    """True if ``owner`` is a live process that this test process did not start: another test run
    on the same host, whose stacks are none of this test's business. What this test made is owned
    by it, by a process it started (dead by now, or still its child), or kept on purpose."""
    pid = owner_pid(owner)
    if pid is None or owner_dead(owner):
        return False
    while pid > 1:
        if pid == os.getpid():
            return False
        pid = _parent(pid)
    return True


@pytest.fixture
def leaves_nothing_behind(docker_client: docker.DockerClient) -> Iterator[None]:
    """Fail the test if it leaves any labelled container, network or volume behind.

    Stacks of another test run on the host (owned by a live process this one did not start) are
    not counted: two runs on one machine would otherwise fail each other's tests."""
    before = azchaos_objects(docker_client)
    yield
    left = {name for name, owner in azchaos_objects(docker_client).items()
            if name not in before and not someone_elses(owner)}
    assert not left, f"left behind: {sorted(left)}"


# One AZ with an app and the LB: a stack of two networks and two containers, up in seconds.
TINY = """\
name: tiny
azs: [a]
images: {images}
services:
  app:
    role: app
    image: example-app
  lb:
    role: lb
    image: nginx
"""


@pytest.fixture
def tiny_env(tmp_path: Path) -> Path:
    """The file of the tiny environment (TINY), for tests of what any stack does."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.format(images=ROOT / "environments" / "images"))
    return path


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The region the module's ``ENVIRONMENT`` (YAML text) describes, or else the default region,
    shared by the tests of one module (a module may define a fixture of its own)."""
    text = getattr(request.module, "ENVIRONMENT", None)
    path = ROOT / "environments" / "default.yaml"
    if text is not None:
        path = Path(tmp_path_factory.mktemp("environment")) / f"{request.module.__name__.rpartition('.')[2]}.yaml"
        path.write_text(text)
    with Stack(load(path), progress=lambda m: print(f"azchaos: {m}")).owned() as running:
        yield running


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
