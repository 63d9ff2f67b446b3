"""The client links for real: a boto3, psycopg or HTTP client in the test goes through Toxiproxy."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from pytest_azchaos import Experiment, Stack
from pytest_azchaos.client import Client, RemoteDisconnected

pytestmark = pytest.mark.usefixtures("leaves_nothing_behind")


@pytest.fixture
def azchaos(stack: Stack) -> Iterator[Experiment]:
    experiment = Experiment(stack)
    yield experiment
    assert experiment.finish() == []


def s3(endpoint: dict[str, Any]) -> Any:
    return boto3.client("s3", endpoint_url=endpoint["url"], aws_access_key_id=endpoint["access_key"],
                        aws_secret_access_key=endpoint["secret_key"], region_name=endpoint["region"],
                        config=Config(s3={"addressing_style": "path"}, connect_timeout=1, read_timeout=5,
                                      retries={"max_attempts": 1}))


def put_seconds(client: Any, bucket: str, n: int = 5) -> float:
    """The median time of ``n`` small puts."""
    times = []
    for i in range(n):
        started = time.monotonic()
        client.put_object(Bucket=bucket, Key=f"client-link/{i}", Body=b"x" * 1024)
        times.append(time.monotonic() - started)
    return statistics.median(times)


def test_the_client_endpoints_reach_the_lb_s3_and_the_db(stack: Stack) -> None:
    endpoints = stack.status()["endpoints"]
    assert {"client_lb", "client_s3", "client_db"} <= set(endpoints)
    assert requests.get(endpoints["client_lb"] + "/healthz", timeout=5).status_code == 200
    with psycopg.connect(endpoints["client_db"], connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    client = s3(endpoints["client_s3"])
    client.put_object(Bucket=endpoints["client_s3"]["bucket"], Key="client-link/hello", Body=b"hello")
    direct = s3(endpoints["s3"])  # the same object store behind the link
    assert direct.get_object(Bucket=endpoints["s3"]["bucket"], Key="client-link/hello")["Body"].read() == b"hello"


def test_latency_on_client_s3_slows_a_boto3_call_and_a_cut_fails_it(stack: Stack, azchaos: Experiment) -> None:
    endpoint = stack.endpoint("client_s3")
    client, bucket = s3(endpoint), endpoint["bucket"]
    before = put_seconds(client, bucket)
    with azchaos.toxic("region/client->s3", "latency", latency=300):
        slow = put_seconds(client, bucket)
        direct = put_seconds(s3(stack.endpoint("s3")), bucket)  # the region's own S3 endpoint is not slowed
    assert slow - before >= 0.28, f"a put took {slow:.3f} s with 300 ms on the link, {before:.3f} s without"
    assert direct < 0.28, f"the direct endpoint took {direct:.3f} s: the toxic is not on the client link only"
    with azchaos.cut("region/client->s3"), pytest.raises(BotoCoreError):
        client.put_object(Bucket=bucket, Key="client-link/cut", Body=b"x")
    assert put_seconds(client, bucket) < 0.28, "the link is still slow or cut after the heal"


def test_a_kept_alive_connection_closed_under_a_request_resends_a_get_once_and_never_a_post(
        stack: Stack, azchaos: Experiment) -> None:
    """The load generator's client, for real: when the server closes a kept-alive connection after
    a request went out and before any answer (an LB reload races a request this way), an idempotent
    request is sent again on a new connection and a POST is not. The unit tests
    (tests/unit/test_client.py) play the race with a socket server; here Toxiproxy's limit_data
    toxic plays it in front of nginx and the example app: each connection may carry 1,500 bytes
    upstream, so its first request (1,100 bytes, a long key) passes and its second is cut part way.
    """
    path = "/items/resend-" + "k" * 1000
    with (azchaos.toxic("region/client->lb", "limit_data", direction="upstream", bytes=1500),
          Client(str(stack.endpoint("client_lb")), timeout_s=10) as client):
        assert client.send("PUT", path, b"kept").status == 200
        answer = client.send("GET", path)  # cut on the kept-alive connection, then sent again
        assert answer.status == 200 and b'"value": "kept"' in answer.body, answer
        with pytest.raises((RemoteDisconnected, ConnectionResetError)):
            client.send("POST", "/items", b"x" * 1000)  # the same cut: it may have been acted on
