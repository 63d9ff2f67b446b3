"""Scenario 6: an S3 multipart upload through a broken pipe.

Rehearses what S3 promises large uploads: an object sent in parts of about 10 MB survives broken
connections, because a client retries the part that broke, not the whole object. The test's own
boto3 client uploads a 50 MB object in five 10 MB parts through the client link
``region/client->s3`` while Toxiproxy breaks connections mid-stream: ``limit_data`` closes some
after 3 MB sent, ``reset_peer`` resets others 400 ms in (toxicity < 1: some connections get
through). Each request asks for its own connection (``Connection: close``), so every part rolls
Toxiproxy's dice, whose toxicity is per connection. The dice miss all five parts of an upload
about 1 time in 40 (0.48 ** 5); a rehearsal that the faults did not hit proves nothing, so the
test then uploads another object, at most 3 in all (1 in 60,000 that none is hit). What it
measures, over the uploads:

- ``retried_parts``: parts of the last upload sent more than once (botocore's ``before-send``
  event counts each attempt per part number), at least 1: the faults did hit the upload;
- ``failed_uploads``: 0, and ``multipart_uploads_started``: one per upload (no object was
  started over);
- ``checksum_mismatches``: the object read back has the SHA-256 of what was sent;
- ``incomplete_uploads``: ``list_multipart_uploads`` shows none left behind.

Negative twin (tests/integration/test_scenario_06.py): the same upload without client retries
(one attempt per request) gives up at the first broken part, and ``failed_uploads`` breaks.
"""

from __future__ import annotations

import collections
import hashlib
import io
import os
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pytest_azchaos import LinkToxic

MB = 1024 * 1024
OBJECT_BYTES, PART_BYTES = 50 * MB, 10 * MB
CLIENT_ATTEMPTS = 20  # botocore's attempts at one request (a part), the first included; the twin sets 1
UPLOADS_AT_MOST = 3  # another object while the toxics hit no part of the last one (see above)
LINK = "region/client->s3"
BROKEN_PIPE = (
    LinkToxic(LINK, "limit_data", (("bytes", 3 * MB),), toxicity=0.4, direction="upstream"),
    LinkToxic(LINK, "reset_peer", (("timeout", 400),), toxicity=0.2, direction="upstream"),
)


def s3_client(endpoint: dict[str, Any], attempts: int) -> Any:
    """A boto3 S3 client of ``endpoint`` that makes ``attempts`` attempts per request."""
    return boto3.client(
        "s3", endpoint_url=endpoint["url"], aws_access_key_id=endpoint["access_key"],
        aws_secret_access_key=endpoint["secret_key"], region_name=endpoint["region"],
        config=Config(s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=20,
                      # total_max_attempts counts the first attempt; max_attempts would count retries
                      # only, so the twin's "1" allowed one retry and passed about half the time.
                      retries={"mode": "standard", "total_max_attempts": attempts}),
    )


class PartAttempts:
    """Count what a client sends: attempts per part number, and the multipart uploads it started
    (a CreateMultipartUpload answered: one whose answer was lost and is sent again leaves an
    upload behind, which ``incomplete_uploads`` sees)."""

    def __init__(self, client: Any) -> None:
        self.by_part: collections.Counter[int] = collections.Counter()
        self.started = 0
        events = client.meta.events
        events.register("before-send.s3.UploadPart", self._part)
        events.register("after-call.s3.CreateMultipartUpload", self._start)
        events.register("before-send.s3", self._own_connection)

    def next_upload(self) -> None:
        """Count the parts of another upload from here on (uploads started are counted on)."""
        self.by_part.clear()

    def _part(self, request: Any, **_: Any) -> None:
        self.by_part[int(parse_qs(urlsplit(request.url).query)["partNumber"][0])] += 1

    def _start(self, **_: Any) -> None:
        self.started += 1

    @staticmethod
    def _own_connection(request: Any, **_: Any) -> None:
        request.headers["Connection"] = "close"

    @property
    def retried(self) -> list[int]:
        return sorted(part for part, n in self.by_part.items() if n > 1)


def upload(client: Any, bucket: str, key: str, data: bytes) -> str | None:
    """Upload ``data`` in parts; return None, or why the upload failed."""
    config = TransferConfig(multipart_threshold=PART_BYTES, multipart_chunksize=PART_BYTES, max_concurrency=2)
    try:
        client.upload_fileobj(io.BytesIO(data), bucket, key, Config=config)
    except (S3UploadFailedError, BotoCoreError, ClientError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def incomplete_uploads(client: Any, bucket: str, key: str, *, settle_s: float = 10) -> list[str]:
    """The upload ids of ``key`` still listed as in progress after at most ``settle_s``: MinIO lists
    a just-completed upload for a moment (its listing is cached per node), S3 does not."""
    deadline = time.monotonic() + settle_s
    while True:
        listed = client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
        if not listed or time.monotonic() > deadline:
            return [upload["UploadId"] for upload in listed]
        time.sleep(0.5)


def test_multipart_upload_retries_parts_through_a_broken_pipe(azchaos, figures):
    endpoint = azchaos.stack.endpoint("client_s3")
    client, direct = s3_client(endpoint, CLIENT_ATTEMPTS), s3_client(azchaos.stack.endpoint("s3"), 5)
    bucket = endpoint["bucket"]
    attempts = PartAttempts(client)
    uploads: list[tuple[str, bytes, str | None]] = []  # key, data, why it failed
    started = time.monotonic()
    with azchaos.combined(*BROKEN_PIPE):
        while len(uploads) < UPLOADS_AT_MOST and not attempts.retried and not any(why for *_, why in uploads):
            attempts.next_upload()
            key, data = f"scenario-6/{os.urandom(4).hex()}", os.urandom(OBJECT_BYTES)
            uploads.append((key, data, upload(client, bucket, key, data)))
    took = time.monotonic() - started
    failures = [why for *_, why in uploads if why]
    print(f"\nscenario 6: {OBJECT_BYTES // MB} MB in {PART_BYTES // MB} MB parts in {took:.1f} s "
          f"({len(uploads)} upload{'s' if len(uploads) > 1 else ''}); attempts per part of the last "
          f"{dict(sorted(attempts.by_part.items()))}; retried parts {attempts.retried}; "
          f"{failures[0] if failures else 'completed'}")
    figures("failed_uploads", len(failures), 0, failures[0] if failures else "")
    figures("multipart_uploads_started", attempts.started, len(uploads),
            "an object was started over, not its parts" if attempts.started > len(uploads) else "")
    figures("retried_parts", len(attempts.retried), 1,
            "" if attempts.retried else f"the toxics hit no part of {len(uploads)} uploads", at_least=True)
    differs = []
    for key, data, _ in uploads:
        stored = direct.get_object(Bucket=bucket, Key=key)["Body"].read()
        if hashlib.sha256(stored).digest() != hashlib.sha256(data).digest():
            differs.append(f"{key}: read back {len(stored)} bytes whose SHA-256 differs from the {len(data)} sent")
    figures("checksum_mismatches", len(differs), 0, "; ".join(differs))
    left = [upload_id for key, _, _ in uploads for upload_id in incomplete_uploads(direct, bucket, key)]
    figures("incomplete_uploads", len(left), 0, f"left behind: {left}" if left else "")
