"""S3 with more than 16 drives, for real: MinIO cuts them into several erasure sets, and each set
must still survive the loss of any one AZ (roles/s3.py, drive_order)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pytest_azchaos import Stack
from pytest_azchaos.stack.roles.s3 import admin_info

# 18 drives: MinIO makes two sets of 9 (EC:4, reads need 5 drives of a set). Given node by node,
# the first set would be AZ a's 6 drives and 3 of AZ b's: losing AZ a would leave it 3.
ENVIRONMENT = """\
name: s3-sets
azs: [a, b, c]
services:
  s3:
    role: s3
    image: minio
    drives_per_node: 6
"""


def test_minio_makes_two_sets_each_spread_over_every_az(stack: Stack) -> None:
    status = stack.status()["roles"]["s3"]
    assert (status["drives_online"], status["erasure_sets"], status["set_drives"], status["parity"]) == (18, 2, 9, 4)
    assert status["survives_az_loss"] == {"read": True, "write": True}
    info = admin_info(stack, stack.members(az="a")[0])
    assert info is not None
    azs_of_set: dict[int, list[str]] = defaultdict(list)
    for server in info["servers"]:
        az = server["endpoint"].split("-")[-2]  # s3-a-1:9000
        for drive in server["drives"]:
            azs_of_set[drive["set_index"]].append(az)
    assert sorted(azs_of_set) == [0, 1], azs_of_set  # MinIO's own view of its sets
    for drives in azs_of_set.values():
        assert sorted(drives) == ["a"] * 3 + ["b"] * 3 + ["c"] * 3, azs_of_set


def test_losing_an_az_keeps_every_set_readable_and_writable(
        stack: Stack, s3_client: Callable[[Stack, str], Any]) -> None:
    s3 = s3_client(stack, "b")  # a node that stays up
    bucket = str(stack.topology.service("s3").options["bucket"])
    keys = [f"before-{n}" for n in range(24)]  # objects hash over both sets
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * 100)
    # A clean stop: the peers see the node's drives gone at once. What is tested is the layout of
    # the sets (with AZ a's drives gone, does each set keep its quorums?), not how fast MinIO
    # notices a node that vanished without a word (docs/stack.md, "S3: MinIO, erasure-coded across AZs").
    az_a = [m.container for m in stack.members(az="a")]
    stack.backend.stop(az_a)
    killed = time.monotonic()
    deadline = killed + 90  # for all 48: a set without its quorum never answers, however long the wait
    failed: list[str] = []
    for key in keys:
        if not _by(deadline, lambda k=key: s3.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode() * 100):
            failed.append(f"GET {key}")
    for n in range(24):
        if not _by(deadline, lambda n=n: bool(s3.put_object(Bucket=bucket, Key=f"during-{n}", Body=b"y" * 1000))):
            failed.append(f"PUT during-{n}")
    print(f"{48 - len(failed)} of 48 requests served after AZ a was lost ({time.monotonic() - killed:.1f} s)")
    assert not failed, f"with AZ a down: {', '.join(failed)}"


def _by(deadline: float, operation: object) -> bool:
    """Whether ``operation`` returns True by ``deadline`` (once at least, however late)."""
    while True:
        try:
            if operation():  # type: ignore[operator]
                return True
        except (BotoCoreError, ClientError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)

