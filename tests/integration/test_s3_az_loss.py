"""S3 right after an AZ loses power, for real: objects written the moment the region is ready, and an
AZ lost at once after them, are all read back, and reads stop waiting for the lost node within
seconds. Both failed with MinIO as upstream builds it (environments/images/minio:
set-drives-header.patch and the readiness that reads it, unreachable-peer.patch; docs/stack.md,
"An AZ lost right after writes")."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pytest_azchaos import Stack, load

ENVIRONMENT = """\
name: s3-az-loss
azs: [a, b, c]
services:
  s3:
    role: s3
    image: minio
    drives_per_node: 2
"""
READS_S = 24  # of reads after the loss
SETTLED_S = 12  # the lost node is seen gone by then: its grid ping fails after 4 s, one 3 s call after that
SLOW_S = 1.5  # a read waiting out the 3 s drive timeout for the lost node


def test_objects_written_at_start_are_read_back_at_speed_after_an_az_is_lost_at_once(
        tmp_path: Path, s3_client: Callable[[Stack, str], Any]) -> None:
    path = tmp_path / "s3-az-loss.yaml"
    path.write_text(ENVIRONMENT)
    with Stack(load(path), progress=lambda m: print(f"azchaos: {m}")).owned() as stack:
        # At once after "ready", with no pause: upstream MinIO counted a new node's own drives
        # offline for up to a second, and wrote these objects on the other AZs' drives only.
        s3 = s3_client(stack, "b")
        bucket = str(stack.topology.service("s3").options["bucket"])
        keys = [f"before-{n}" for n in range(24)]
        for key in keys:
            s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * 100)
        stack.backend.kill([m.container for m in stack.members(az="a")])  # power lost: no goodbye
        killed = time.monotonic()
        missing: set[str] = set()
        errors: list[str] = []
        slow_late: list[str] = []
        reads = 0
        while time.monotonic() - killed < READS_S:
            for key in keys:
                started = time.monotonic()
                try:
                    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode() * 100
                except ClientError as exc:
                    code = exc.response.get("Error", {}).get("Code", "")
                    if code == "NoSuchKey":
                        missing.add(key)
                    else:
                        errors.append(f"{key}: {code}")
                except BotoCoreError as exc:
                    errors.append(f"{key}: {exc}")
                reads += 1
                took = time.monotonic() - started
                if started - killed > SETTLED_S and took > SLOW_S:
                    slow_late.append(f"{key} at +{started - killed:.1f} s took {took:.1f} s")
        print(f"{reads} reads in {READS_S} s after AZ a was lost; NoSuchKey for {len(missing)} objects; "
              f"{len(errors)} other errors; {len(slow_late)} reads over {SLOW_S} s after +{SETTLED_S} s")
        assert not missing, f"NoSuchKey for objects acknowledged before the loss: {sorted(missing)}"
        assert not errors, f"reads failed after AZ a was lost: {errors[:5]}"
        assert not slow_late, f"reads still waited for the lost node {SETTLED_S} s after the loss: {slow_late[:5]}"
