"""Read acknowledged writes back after healing, straight from the stores (not through the app).

The default reads the example app's stores: rows of the ``items`` table in
PostgreSQL through the DB endpoint, and objects of the S3 bucket through the S3
endpoint. An app with other stores implements the ``pytest_azchaos_read_back``
hook (see hookspecs.py) and returns ``{key: sha256 of the stored value or None}``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .client import digest
from .errors import StackError

if TYPE_CHECKING:
    from .stack import Stack

ITEMS_TABLE = "items"


def read_back(stack: Stack, keys: Sequence[str], *, timeout_s: float = 90) -> dict[str, str | None] | None:
    """Return the digest of what is stored under each key (None: missing); None if the stack has no store."""
    endpoints = stack.endpoints()
    if "db" not in endpoints and "s3" not in endpoints:
        return None
    deadline = time.monotonic() + timeout_s
    found: dict[str, str | None] = dict.fromkeys(keys)
    if "db" in endpoints:
        found.update(_retry(lambda: _rows(endpoints["db"], keys), deadline, "PostgreSQL"))
    missing = [key for key, value in found.items() if value is None]
    if "s3" in endpoints and missing:
        found.update(_retry(lambda: _objects(endpoints["s3"], missing), deadline, "S3"))
    return found


def _retry(read: Any, deadline: float, store: str) -> dict[str, str | None]:
    """Retry ``read`` until it works: right after healing, a store may still be recovering."""
    while True:
        try:
            return dict(read())
        except Exception as exc:  # a store still recovering answers with all kinds of errors
            if time.monotonic() > deadline:
                raise StackError(f"could not read acknowledged writes back from {store}: {exc}") from exc
            time.sleep(1)


def _rows(dsn: str, keys: Sequence[str]) -> dict[str, str | None]:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, connect_timeout=3) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (ITEMS_TABLE,)).fetchone()
        if not exists or exists[0] is None:
            return {}
        query = sql.SQL("SELECT key, value FROM {} WHERE key = ANY(%s)").format(sql.Identifier(ITEMS_TABLE))
        return {str(key): digest(str(value)) for key, value in conn.execute(query, (list(keys),))}


def _objects(s3: dict[str, str], keys: Sequence[str]) -> dict[str, str | None]:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3", endpoint_url=s3["url"], aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"],
        region_name=s3["region"], config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )
    found: dict[str, str | None] = {}
    for key in keys:
        try:
            found[key] = digest(client.get_object(Bucket=s3["bucket"], Key=key)["Body"].read())
        except client.exceptions.NoSuchKey:
            found[key] = None
    return found
