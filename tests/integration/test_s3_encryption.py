"""S3 with a bucket encrypted by default (``encryption: sse-kms``), for real: MinIO's built-in KMS
encrypts every object, small or multipart, and no plaintext reaches a drive.

The check of the drives is proven able to fail in the same stack: the same bytes written to a
bucket without default encryption are found on the drives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_azchaos import Stack
from pytest_azchaos.stack.roles.s3 import KMS_KEY_NAME

ENVIRONMENT = """\
name: s3-encrypted
azs: [a, b, c]
services:
  s3:
    role: s3
    image: minio
    encryption: sse-kms
"""

#: bytes that cannot be mistaken for anything MinIO writes itself; each shard holds many copies
MARKER = b"AZCHAOS-PLAINTEXT-MARKER-"

pytestmark = pytest.mark.slow


def plaintext_on_drives(stack: Stack, bucket: str) -> list[str]:
    """The files of ``bucket`` on every drive of every node that hold the marker in plaintext."""
    found: list[str] = []
    for node in stack.members(service="s3"):
        grep = f"grep -rl {MARKER.decode()} /data*/{bucket}/ || true"
        code, out = stack.backend.exec(node.container, ["sh", "-c", grep])
        assert code == 0, out
        found += [f"{node.alias}:{line}" for line in out.split() if line]
    return found


def test_every_object_is_encrypted_under_the_regions_kms_key(
        stack: Stack, s3_client: Callable[[Stack, str], Any]) -> None:
    s3 = s3_client(stack, "a")
    bucket = str(stack.topology.service("s3").options["bucket"])
    status = stack.status()["roles"]["s3"]  # what `azchaos status` and the reports show
    assert (status["encryption"], status["kms_key"]) == ("sse-kms", KMS_KEY_NAME)
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS_KEY_NAME}
    small, large = MARKER * 40, MARKER * 420_000  # inline in xl.meta; ~10 MiB in three parts
    s3.put_object(Bucket=bucket, Key="small", Body=small)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="large")["UploadId"]
    parts = [{"PartNumber": n + 1, "ETag": s3.upload_part(Bucket=bucket, Key="large", UploadId=upload, PartNumber=n + 1,
                                                         Body=large[n * 5 * 2**20:(n + 1) * 5 * 2**20])["ETag"]}
             for n in range(3)]
    s3.complete_multipart_upload(Bucket=bucket, Key="large", UploadId=upload, MultipartUpload={"Parts": parts})
    for key, body in (("small", small), ("large", large)):
        head = s3.head_object(Bucket=bucket, Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", f"arn:aws:kms:{KMS_KEY_NAME}"), key
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
    assert plaintext_on_drives(stack, bucket) == []
    # The control: a bucket without default encryption stores the same bytes as they are.
    s3.create_bucket(Bucket="plain")
    s3.put_object(Bucket="plain", Key="small", Body=small)
    assert "ServerSideEncryption" not in s3.head_object(Bucket="plain", Key="small")
    assert plaintext_on_drives(stack, "plain"), "the drives check found no plaintext where it must"
