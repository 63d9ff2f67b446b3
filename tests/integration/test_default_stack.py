"""The default region for real: Patroni failover, MinIO across AZs, links, endpoints, concurrency."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import psycopg
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pytest_azchaos import Stack, load
from pytest_azchaos.client import digest
from pytest_azchaos.readback import read_back

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "environments" / "default.yaml"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    running = Stack(load(DEFAULT), progress=lambda m: print(f"azchaos: {m}")).up()
    yield running
    running.down()


def s3_client(stack: Stack) -> object:
    s3 = stack.endpoints()["s3"]
    return boto3.client("s3", endpoint_url=s3["url"], aws_access_key_id=s3["access_key"],
                        aws_secret_access_key=s3["secret_key"], region_name=s3["region"],
                        config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2}))


def eventually(operation: Callable[[], object], within_s: float = 120) -> object:
    """Return the result of the first success of ``operation``, retried for ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return operation()
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_status_shows_the_region(stack: Stack) -> None:
    status = stack.status()
    assert status["azs"] == ["a", "b", "c"]
    assert all(m["state"] == "running" and m["healthy"] for m in status["members"]), status["members"]
    db = status["roles"]["db"]
    leader = next(n for n in db["nodes"] if n["role"] == "leader")
    standby = next(n for n in db["nodes"] if n["role"] == "sync_standby")
    assert standby["sync_state"] == "sync"
    assert standby["state"] == "streaming"
    assert leader["az"] == "a" and standby["az"] == "b"
    assert leader["name"].split("-")[1] != standby["name"].split("-")[1], "leader and standby share an AZ"
    assert len(status["roles"]["etcd"]["healthy"]) == 3
    s3 = status["roles"]["s3"]
    assert (s3["drives_online"], s3["drives_total"]) == (6, 6)
    assert s3["survives_az_loss"] == {"read": True, "write": True}
    assert sorted(status["roles"]["toxiproxy"]["links"])[:3] == ["a/app->db", "a/app->s3", "a/lb->app-a-1"]


def test_endpoints_work_with_standard_clients(stack: Stack) -> None:
    endpoints = stack.endpoints()
    assert requests.get(endpoints["lb"] + "/", timeout=2).status_code == 200
    with psycopg.connect(endpoints["db"], connect_timeout=3, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS probe (id text PRIMARY KEY)")
        conn.execute("INSERT INTO probe VALUES (%s)", (uuid.uuid4().hex,))
    s3 = s3_client(stack)
    s3.create_bucket(Bucket="probe")  # type: ignore[attr-defined]
    s3.put_object(Bucket="probe", Key="k", Body=b"hello")  # type: ignore[attr-defined]
    assert s3.get_object(Bucket="probe", Key="k")["Body"].read() == b"hello"  # type: ignore[attr-defined]


def test_app_writes_items_and_objects_through_the_lb(stack: Stack) -> None:
    created = requests.post(stack.lb_url + "/items", data="v1", timeout=10)
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert requests.get(f"{stack.lb_url}/items/{key}", timeout=5).json()["value"] == "v1"
    body = bytes(range(256)) * 40_000  # 10 MB: a multipart upload
    put = requests.put(f"{stack.lb_url}/objects/big", data=body, timeout=60)
    assert put.status_code == 200, put.text
    got = requests.get(f"{stack.lb_url}/objects/big", timeout=60)
    assert got.content == body and got.headers["X-Checksum-Sha256"] == put.json()["sha256"]


def test_the_read_back_reads_a_missing_key_again_and_says_which_node_answered(stack: Stack) -> None:
    """lost_writes counts a write lost when it is gone for good: a key that no store has at first is read
    again for ``settle_s``, and what the stores said about it is kept for the message."""
    s3 = s3_client(stack)
    bucket = stack.endpoints()["s3"]["bucket"]
    s3.put_object(Bucket=bucket, Key="there", Body=b"x")  # type: ignore[attr-defined]
    late = threading.Timer(1.0, lambda: s3.put_object(Bucket=bucket, Key="late", Body=b"late"))  # type: ignore[attr-defined]
    late.start()
    started = time.monotonic()
    found = read_back(stack, ["there", "late", "never"])  # settle_s: 10
    took = time.monotonic() - started
    late.join()
    assert found is not None
    assert (found["there"], found["late"], found["never"]) == (digest(b"x"), digest(b"late"), None)
    assert "there" not in found.notes and took >= 10
    node = r"s3-[abc]-1"  # the node that answered, by name (from the endpoint's X-Azchaos-Upstream)
    assert re.fullmatch(rf"not in PostgreSQL's items; S3: NoSuchKey from {node}(, {node})*", found.notes["never"])
    later = re.fullmatch(rf"not in PostgreSQL's items; S3: NoSuchKey from {node}(, {node})*, found (\d+\.\d) s later",
                         found.notes["late"])
    assert later and float(later[2]) >= 1.0, found.notes["late"]


def test_losing_one_az_keeps_s3_readable_and_writable(stack: Stack) -> None:
    s3 = s3_client(stack)
    with contextlib.suppress(ClientError):  # made by an earlier test already
        s3.create_bucket(Bucket="probe")  # type: ignore[attr-defined]
    s3.put_object(Bucket="probe", Key="before", Body=b"x" * 1000)  # type: ignore[attr-defined]
    az_c = [m.container for m in stack.members(az="c")]
    stack.backend.kill(az_c)
    killed = time.monotonic()
    try:
        # MinIO gives up on the dead node's connections after its TCP user timeout (3 s, see
        # roles/s3.py; 10 min by default) and routes around it: S3 must be back within 20 s.
        assert eventually(lambda: s3.get_object(Bucket="probe", Key="before")["Body"].read(), 20) == b"x" * 1000  # type: ignore[attr-defined]
        eventually(lambda: s3.put_object(Bucket="probe", Key="during", Body=b"y" * 1000), 20)  # type: ignore[attr-defined]
        assert eventually(lambda: s3.get_object(Bucket="probe", Key="during")["Body"].read(), 20) == b"y" * 1000  # type: ignore[attr-defined]
        print(f"S3 read and wrote again {time.monotonic() - killed:.1f} s after AZ c was lost")
    finally:
        stack.backend.start(az_c)
        stack.forget_ports(stack.members(az="c"))
        stack.wait_ready(stack.members(az="c"), deadline=time.monotonic() + 120)
        stack.reload_lb()


def test_killing_the_primary_fails_over_within_30s_without_losing_rows(stack: Stack) -> None:
    dsn = stack.db_dsn()
    with psycopg.connect(dsn, connect_timeout=3, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS committed (n int PRIMARY KEY)")
        for n in range(200):
            conn.execute("INSERT INTO committed VALUES (%s)", (n,))
    leader = stack.status()["roles"]["db"]["leader"]
    primary = stack.member(leader)
    stack.backend.kill([primary.container])
    killed = time.monotonic()
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=2, autocommit=True) as conn:
                conn.execute("INSERT INTO committed VALUES (1000)")
                rows = {r[0] for r in conn.execute("SELECT n FROM committed").fetchall()}
            break
        except psycopg.Error:
            assert time.monotonic() - killed < 30, "the DB endpoint took writes again only after 30 s"
            time.sleep(0.2)
    failover_s = time.monotonic() - killed
    print(f"failover: writes accepted again {failover_s:.1f} s after the primary was killed")
    assert set(range(200)) <= rows, f"lost rows: {sorted(set(range(200)) - rows)[:10]}"
    new_leader = stack.status()["roles"]["db"]["leader"]
    assert new_leader not in (None, leader)
    stack.backend.start([primary.container])  # the old primary rejoins as a standby
    stack.forget_ports([primary])
    stack.wait_ready(stack.members(role="db"), deadline=time.monotonic() + 120)


@pytest.mark.usefixtures("leaves_nothing_behind")
def test_a_second_stack_runs_beside_the_first(stack: Stack) -> None:
    cli = [sys.executable, "-m", "pytest_azchaos.cli"]
    up = subprocess.run([*cli, "up", "--env", str(DEFAULT)],
                        capture_output=True, text=True, timeout=300, check=False)
    assert up.returncode == 0, up.stderr
    second = json.loads(up.stdout)
    try:
        assert second["run_id"] != stack.run_id
        assert requests.get(second["endpoints"]["lb"] + "/", timeout=2).status_code == 200
        assert requests.get(stack.lb_url + "/", timeout=2).status_code == 200
    finally:
        subprocess.run([*cli, "down", "--run-id", second["run_id"]], check=True, timeout=120)
