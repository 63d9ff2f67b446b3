"""Scenario 10: objects encrypted with SSE-KMS survive the loss of an AZ, and all stay encrypted
(on the region of examples/scenarios/sse-kms.yaml, which its marker starts).

Rehearses S3 with SSE-KMS: the bucket encrypts every object by default under a KMS key, and the
app sends no encryption header. S3 and KMS are regional services: losing an AZ must neither lose
an encrypted object nor leave one unreadable, and no object written meanwhile may be stored
without encryption. AZ b loses power for 20 s under object puts and gets (and a 9 MiB multipart
upload now and then, each part encrypted). What it measures:

- ``failed_requests[get_object]``: 0: each read while AZ b is down decrypts an object rebuilt
  from the drives of the other two AZs;
- ``lost_writes``: every acknowledged object, read back after the heal, decrypts to the SHA-256
  of what was sent;
- ``unencrypted_objects``: 0 of the acknowledged objects are not SSE-KMS under the bucket's key,
  by S3's own HEAD (as an auditor would check).

The region's KMS is MinIO's built-in one, which every node holds in memory: a KMS outage or
throttling cannot be rehearsed with it (docs/scenarios.md).

    .venv/bin/pytest examples/scenarios/test_10_encrypted_objects.py

Negative twin (tests/integration/test_scenario_twins.py): the same test on the default region,
whose bucket has no default encryption, breaks ``unencrypted_objects``.
"""

from __future__ import annotations

import pytest

from pytest_azchaos.workloads import example_app

pytestmark = pytest.mark.azchaos_env("sse-kms.yaml")  # the default region, bucket encrypted; relative here


@pytest.mark.slo(failed_requests={"get_object": 0}, lost_writes=0, stale_reads=0)
def test_encrypted_objects_survive_the_loss_of_an_az(azchaos, figures, unencrypted_objects):
    workload = example_app(reads=0, writes=0, object_puts=4, object_gets=4, large_object_puts=0.2)
    with azchaos.traffic(rate_per_s=20, workload=workload):
        azchaos.wait("3s")
        with azchaos.outage("b", mode="power"):  # its MinIO node with two drives, and its app replica
            azchaos.wait("20s")
        azchaos.wait("10s")
    written = [op.key for op in azchaos.history.operations if op.kind.startswith("put") and op.key]
    figures("unencrypted_objects", *unencrypted_objects(written))
