"""Read acknowledged writes back after healing, straight from the stores (not through the app).

The default reads the example app's stores: rows of the ``items`` table in
PostgreSQL through the DB endpoint, and objects of the S3 bucket through the S3
endpoint. An app with other stores implements the ``pytest_azchaos_read_back``
hook (see hookspecs.py) and returns ``{key: sha256 of the stored value or None}``.

A key no store has at first is read again for a while (``settle_s``): an acknowledged write is lost
when it is gone for good, not when a store that was just healed answers "not found" for a moment.
What the stores said about such keys is kept in the answer's ``notes``, for the ``lost_writes`` message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from .client import digest
from .errors import StackError

if TYPE_CHECKING:
    from .stack import Stack

ITEMS_TABLE = "items"
UPSTREAM_HEADER = "x-azchaos-upstream"  # the S3 endpoint's node that answered (roles/lb.py)


class Found(dict[str, "str | None"]):
    """What ``read_back`` found, {key: digest or None}, with ``notes`` on the keys a store answered
    missing at first: what each store said, and when a later read found the key."""

    def __init__(self, found: dict[str, str | None], notes: dict[str, str]) -> None:
        super().__init__(found)
        self.notes = notes


def read_back(stack: Stack, keys: Sequence[str], *, timeout_s: float = 90,
              settle_s: float = 10) -> Found | None:
    """Return the digest of what is stored under each key (None: missing); None if the stack has no store.

    Keys missing at first are read again every second for ``settle_s``."""
    endpoints = stack.endpoints()
    if "db" not in endpoints and "s3" not in endpoints:
        return None
    deadline = time.monotonic() + timeout_s
    found: dict[str, str | None] = dict.fromkeys(keys)
    said: dict[str, list[str]] = {}  # key -> the S3 nodes that answered NoSuchKey, by address
    later: dict[str, float] = {}  # key missing at first -> seconds until a read found it
    started = time.monotonic()
    while True:
        missing = [key for key, value in found.items() if value is None]
        if "db" in endpoints and missing:
            found.update(_retry(partial(_rows, endpoints["db"], missing), deadline, "PostgreSQL", stack.progress))
        if "s3" in endpoints and any(found[key] is None for key in missing):
            absent = [key for key in missing if found[key] is None]
            read: dict[str, str | None] = {}  # what this pass read so far: kept when a GET fails midway
            found.update(_retry(partial(_objects, endpoints["s3"], absent, said, read), deadline, "S3", stack.progress))
        later.update({key: time.monotonic() - started for key in missing if key in said and found[key] is not None})
        if all(found[key] is not None for key in missing) or time.monotonic() - started >= settle_s:
            notes = _notes(found, said, later, stack.upstreams() if said else {}, db="db" in endpoints)
            return Found(found, notes)
        time.sleep(1)


def _notes(found: dict[str, str | None], said: dict[str, list[str]], later: dict[str, float],
           names: dict[str, str], *, db: bool) -> dict[str, str]:
    """What the stores said about each key missing at first: "S3: NoSuchKey from s3-c-1, found 2.1 s later"."""
    notes = {}
    for key, addresses in said.items():
        nodes = ", ".join(dict.fromkeys(names.get(address, address) for address in addresses))
        where = ("not in PostgreSQL's items; " if db else "") + f"S3: NoSuchKey from {nodes}"
        notes[key] = f"{where}, found {later[key]:.1f} s later" if found[key] is not None else where
    return notes


def _retry(read: Any, deadline: float, store: str, progress: Callable[[str], None]) -> dict[str, str | None]:
    """Retry ``read`` until it works: right after healing, a store may still be recovering.
    Each failure is said (``progress``): a read-back that waits on a store is not silent."""
    while True:
        try:
            return dict(read())
        except Exception as exc:  # a store still recovering answers with all kinds of errors
            left = deadline - time.monotonic()
            if left < 0:
                raise StackError(f"could not read acknowledged writes back from {store}: {exc}") from exc
            progress(f"reading acknowledged writes back from {store}: {exc}; trying again ({left:.0f} s left)")
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


def _objects(s3: dict[str, str], keys: Sequence[str], said: dict[str, list[str]],
             read: dict[str, str | None]) -> dict[str, str | None]:
    """Read each object not ``read`` yet into ``read``, and return it; for one S3 does not have, note
    the node that answered (``said``). Tried again after a failed GET, it goes on from that key: a
    pass reads hundreds of objects, and one slow object must not cost a second pass over them all."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3", endpoint_url=s3["url"], aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"],
        region_name=s3["region"], config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )
    for key in keys:
        if key in read:
            continue
        try:
            read[key] = digest(client.get_object(Bucket=s3["bucket"], Key=key)["Body"].read())
        except client.exceptions.NoSuchKey as exc:
            read[key] = None
            node = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(UPSTREAM_HEADER, "")
            # nginx lists every node it tried ("a:9000, b:9000"); the last one answered
            answered = node.rpartition(", ")[2]
            said.setdefault(key, []).append(answered or "the S3 endpoint")
    return read
