"""Benchmark: the CPU that one S3 request costs the region's MinIO, against MinIO alone.

It sends N PUTs of 64 KiB objects (the size ``example_app()`` uses), then N GETs of them, with 8
client threads, to the region's S3 endpoint, and prints the CPU each MinIO node (and the LB in
front) used per request, from docker stats. In the same run, for reference, the same requests go
to two MinIO containers of the same image started here: one drive, and six drives on one node
(the region's erasure set, EC:3, without the network between nodes). The gap between the region
and the references is the price of distributing MinIO over three AZs. Asserts nothing.

    .venv/bin/python bench/s3_cost.py [--env environments/default.yaml | --run-id ID] [--requests 1000]
    .venv/bin/python bench/s3_cost.py --run-id ID --variant GOGC=400 --variant GOGC=off,GOMEMLIMIT=1GiB
    .venv/bin/python bench/s3_cost.py --run-id ID --tmpfs

Each ``--variant`` adds one more six-drive reference with those environment variables (e.g. Go's
garbage collector settings), measured in the same run as the plain one. ``--tmpfs`` adds one whose
six drives are in memory (tmpfs): what writing to the drives costs MinIO.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import docker
from botocore.config import Config

from pytest_azchaos.backend import LABEL_RUN
from pytest_azchaos.images import ImageSet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capacity import ROOT, region, usage, where

SIZE = 64 * 1024
THREADS = 8
REFERENCE_KEY = "azchaos-bench"  # user and password of the reference containers, on 127.0.0.1 only


def measure(label: str, client: docker.DockerClient, run_id: str, s3: dict[str, str], n: int,
            watch: Callable[[str], bool]) -> None:
    """Print the CPU per PUT and per GET of the containers of ``run_id`` that ``watch`` picks."""
    api = boto3.client("s3", endpoint_url=s3["url"], aws_access_key_id=s3["access_key"],
                       aws_secret_access_key=s3["secret_key"], region_name="us-east-1",
                       config=Config(max_pool_connections=2 * THREADS, retries={"max_attempts": 0}))
    bucket = s3.get("bucket") or "bench"
    if "bucket" not in s3:
        api.create_bucket(Bucket=bucket)
    body, tag = b"x" * SIZE, uuid.uuid4().hex[:8]
    phases: dict[str, Callable[[int], Any]] = {
        "PUT": lambda i: api.put_object(Bucket=bucket, Key=f"{tag}/{i}", Body=body),
        "GET": lambda i: api.get_object(Bucket=bucket, Key=f"{tag}/{i}")["Body"].read(),
    }
    for verb, call in phases.items():
        before = usage(client, run_id)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(call, range(n)))
        wall = time.monotonic() - started
        after = usage(client, run_id)
        spent = {name: 1000 * (after.cpu_s[name] - before.cpu_s[name]) / n
                 for name in after.cpu_s if watch(name)}
        minio = sum(ms for name, ms in spent.items() if name != "lb")
        parts = "  ".join(f"{name} {ms:.2f}" for name, ms in sorted(spent.items()))
        print(f"{label:<34} {verb}  {n / wall:5.0f}/s  MinIO CPU per request {minio:5.2f} ms   ({parts})")


@contextmanager
def reference(client: docker.DockerClient, drives: int, extra: dict[str, str] | None = None,
              *, in_memory: bool = False) -> Iterator[tuple[str, dict[str, str]]]:
    """Start MinIO alone (the region's image) with ``drives`` drives on one node and the
    environment variables ``extra``, the drives on tmpfs if ``in_memory``; yield (run id, endpoint)."""
    image = ImageSet(ROOT / "environments" / "images", mode="auto", progress=print).ensure("minio")
    run_id = f"bench-{uuid.uuid4().hex[:8]}"
    paths = [f"/data{d}" for d in range(1, drives + 1)]
    env = {"MINIO_ROOT_USER": REFERENCE_KEY, "MINIO_ROOT_PASSWORD": REFERENCE_KEY, "MINIO_CI_CD": "on"}
    if drives > 1:
        env["MINIO_STORAGE_CLASS_STANDARD"] = f"EC:{drives // 2}"
    env.update(extra or {})
    container = client.containers.run(
        image, ["minio", "server", *paths], detach=True, environment=env,
        ports={"9000/tcp": ("127.0.0.1", None)}, labels={LABEL_RUN: run_id, "azchaos.role": "bench-minio"},
        name=f"{run_id}-minio", tmpfs=dict.fromkeys(paths, "size=1g") if in_memory else None,
    )
    try:
        url = _ready(container)
        yield run_id, {"url": url, "access_key": REFERENCE_KEY, "secret_key": REFERENCE_KEY}
    finally:
        container.remove(force=True)


def _ready(container: Any) -> str:
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        container.reload()
        bindings = container.attrs["NetworkSettings"]["Ports"].get("9000/tcp")
        if bindings:
            url = f"http://127.0.0.1:{bindings[0]['HostPort']}"
            try:
                if requests.get(f"{url}/minio/health/cluster", timeout=1).status_code == 200:
                    return url
            except requests.RequestException:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"the reference MinIO did not get ready in 60 s: {container.logs(tail=20).decode()}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    where(parser)
    parser.add_argument("--requests", type=int, default=1000, help="PUTs, then as many GETs, per target")
    parser.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                        help="one more six-drive reference with these environment variables (repeatable)")
    parser.add_argument("--tmpfs", action="store_true", help="one more six-drive reference, its drives in memory")
    args = parser.parse_args(argv)
    variants = [_variant(parser, text) for text in args.variant]
    client = docker.from_env()
    print(f"{args.requests} requests of {SIZE // 1024} KiB per verb, {THREADS} client threads")
    with region(args) as stack:
        measure("the region (S3 endpoint)", client, stack.run_id, stack.endpoints()["s3"], args.requests,
                lambda name: name == "lb" or name.startswith("s3-"))
    for drives in (1, 6):
        with reference(client, drives) as (run_id, s3):
            measure(f"MinIO alone, {drives} drive{'s' * (drives > 1)}, one node", client, run_id, s3,
                    args.requests, lambda name: name == "minio")
    for text, extra in zip(args.variant, variants, strict=True):
        with reference(client, 6, extra) as (run_id, s3):
            measure(f"6 drives, one node, {text}", client, run_id, s3, args.requests,
                    lambda name: name == "minio")
    if args.tmpfs:
        with reference(client, 6, in_memory=True) as (run_id, s3):
            measure("6 drives in memory (tmpfs), one node", client, run_id, s3, args.requests,
                    lambda name: name == "minio")
    return 0


def _variant(parser: argparse.ArgumentParser, text: str) -> dict[str, str]:
    pairs = [part.partition("=") for part in text.split(",")]
    if not all(key and sep for key, sep, _ in pairs):
        parser.error(f"--variant {text!r}: expected KEY=VALUE[,KEY=VALUE], e.g. GOGC=400")
    return {key: value for key, _, value in pairs}


if __name__ == "__main__":
    sys.exit(main())
