"""Benchmark: what S3 answers right after an AZ loses power, over N runs.

Each run starts an S3-only region (MinIO, one node per AZ, ``--drives`` per node), PUTs K objects
of 1 KiB to AZ b's node, kills AZ a's node ``--delay`` seconds after the last PUT was
acknowledged, and reads every object from AZ b's node for ``--seconds``. Per run it prints the
reads answered, how many took over 1 s (and until when), how many answered NoSuchKey for an
object acknowledged before the loss, how many of the objects AZ b's drives held then, and
whether every object reads back once AZ a is back. A run with NoSuchKey keeps each node's MinIO
log in ``--logs`` (bench-out/s3_az_loss), for the why. Asserts nothing.

    .venv/bin/python bench/s3_az_loss.py [--runs 5] [--objects 24] [--delay 0] [--seconds 20] [--drives 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pytest_azchaos import Stack, load

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capacity import QUIET

SLOW_S = 1.0
ENVIRONMENT = """\
name: s3-az-loss
azs: [a, b, c]
services:
  s3:
    role: s3
    image: minio
    drives_per_node: {drives}
"""


@dataclass
class Run:
    reads: int = 0
    slow: int = 0
    slow_until_s: float = 0.0
    missing: int = 0  # NoSuchKey for an acknowledged object
    other_errors: int = 0
    held_by_b: int = 0
    back_after_heal: bool | None = None  # None: not checked (nothing was missing)


def one_run(env: Path, args: argparse.Namespace, number: int) -> Run:
    run = Run()
    with Stack(load(env), progress=QUIET).owned() as stack:
        node = stack.members(az="b")[0]
        s3 = boto3.client(
            "s3", endpoint_url=stack.url(node, node.port), aws_access_key_id=stack.secret("s3_access_key"),
            aws_secret_access_key=stack.secret("s3_secret_key"), region_name="us-east-1",
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}))
        bucket = str(stack.topology.service("s3").options["bucket"])
        keys = [f"before-{n}" for n in range(args.objects)]
        for key in keys:
            s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * 100)
        time.sleep(args.delay)
        lost = stack.members(az="a")
        stack.backend.kill([m.container for m in lost])
        killed = time.monotonic()
        while time.monotonic() - killed < args.seconds:
            for key in keys:
                started = time.monotonic()
                try:
                    s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
                        run.missing += 1
                    else:
                        run.other_errors += 1
                except BotoCoreError:
                    run.other_errors += 1
                run.reads += 1
                if time.monotonic() - started > SLOW_S:
                    run.slow += 1
                    run.slow_until_s = time.monotonic() - killed
        run.held_by_b = _held(stack, bucket, keys)
        if run.missing:
            _keep_logs(stack, Path(args.logs) / f"run-{number}")
            stack.backend.start([m.container for m in lost])
            stack.forget_ports(lost)
            stack.wait_ready(lost, deadline=time.monotonic() + 120)
            run.back_after_heal = all(_reads(s3, bucket, key) for key in keys)
    return run


def _held(stack: Stack, bucket: str, keys: list[str]) -> int:
    """How many of ``keys`` every drive of AZ b's node holds (an object is a folder on each drive)."""
    member = stack.members(az="b")[0]
    drives = int(stack.topology.service("s3").options["drives_per_node"])
    listing = " ; ".join(f"ls /data{d}/{bucket}" for d in range(1, drives + 1))
    _, out = stack.backend.exec(member.container, ["sh", "-c", listing])
    names = out.split()
    return sum(names.count(key) == drives for key in keys)


def _keep_logs(stack: Stack, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for member in stack.members(service="s3"):
        (folder / f"{member.alias}.log").write_text(stack.backend.logs(member.container, tail=100_000))
    print(f"  MinIO's logs of this run: {folder}", flush=True)


def _reads(s3: object, bucket: str, key: str) -> bool:
    try:
        return bool(s3.get_object(Bucket=bucket, Key=key)["Body"].read())  # type: ignore[attr-defined]
    except (BotoCoreError, ClientError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--objects", type=int, default=24, help="PUT before the loss")
    parser.add_argument("--delay", type=float, default=0, help="seconds from the last PUT to the loss")
    parser.add_argument("--seconds", type=float, default=20, help="of reads after the loss")
    parser.add_argument("--drives", type=int, default=2, help="per node")
    parser.add_argument("--logs", default="bench-out/s3_az_loss",
                        help="folder for the MinIO logs of runs with NoSuchKey")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        env = Path(folder) / "s3-az-loss.yaml"
        env.write_text(ENVIRONMENT.format(drives=args.drives))
        runs = []
        for number in range(1, args.runs + 1):
            run = one_run(env, args, number)
            runs.append(run)
            healed = "" if run.back_after_heal is None else f", all read back once AZ a was back: {run.back_after_heal}"
            print(f"run {number}: {run.reads} reads, {run.slow} over {SLOW_S:g} s "
                  f"(the last at +{run.slow_until_s:.1f} s), {run.missing} NoSuchKey, "
                  f"{run.other_errors} other errors; AZ b's drives held "
                  f"{run.held_by_b}/{args.objects} objects{healed}", flush=True)
    print(f"\n{args.runs} runs, {args.objects} objects, loss {args.delay:g} s after the last PUT, "
          f"{args.drives} drives per node:")
    print(f"  runs with NoSuchKey for an acknowledged object: {sum(r.missing > 0 for r in runs)}")
    print(f"  runs with reads over {SLOW_S:g} s: {sum(r.slow > 0 for r in runs)}; last slow read at "
          f"+{statistics.median([r.slow_until_s for r in runs if r.slow] or [0]):.1f} s (median of those runs)")
    print(f"  runs where AZ b's drives missed objects: {sum(r.held_by_b < args.objects for r in runs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
