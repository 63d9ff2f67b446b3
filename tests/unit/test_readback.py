"""The read-back's waiting on a store that is still recovering (readback._retry)."""

from __future__ import annotations

import time

import pytest

from pytest_azchaos import readback
from pytest_azchaos.errors import StackError


def test_a_store_that_fails_at_first_is_read_again_and_the_wait_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readback.time, "sleep", lambda s: None)
    answers = iter([RuntimeError("504 Gateway Timeout"), {"k": "d"}])

    def read() -> dict[str, str]:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    said: list[str] = []
    assert readback._retry(read, time.monotonic() + 90, "S3", said.append) == {"k": "d"}
    assert len(said) == 1
    assert said[0].startswith("reading acknowledged writes back from S3: 504 Gateway Timeout; trying again (")


def test_a_store_that_never_answers_is_one_error_naming_it() -> None:
    def read() -> dict[str, str]:
        raise RuntimeError("connection refused")

    with pytest.raises(StackError, match="could not read acknowledged writes back from PostgreSQL: connection refused"):
        readback._retry(read, time.monotonic() - 1, "PostgreSQL", lambda message: None)


def test_a_get_that_fails_midway_costs_one_more_get_not_another_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a failed GET the read goes on from that key: the objects read before it are kept."""
    import io
    from functools import partial

    import boto3

    monkeypatch.setattr(readback.time, "sleep", lambda s: None)
    asked: list[str] = []

    class NoSuchKey(Exception):
        pass

    class Client:
        exceptions = type("Exceptions", (), {"NoSuchKey": NoSuchKey})

        def get_object(self, Bucket: str, Key: str) -> dict[str, io.BytesIO]:  # noqa: N803 - boto3's names
            asked.append(Key)
            if Key == "k3" and asked.count("k3") == 1:
                raise RuntimeError("Read timeout on endpoint URL")
            return {"Body": io.BytesIO(Key.encode())}

    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: Client())
    s3 = {"url": "http://127.0.0.1:1", "access_key": "a", "secret_key": "s", "region": "us-east-1", "bucket": "b"}
    keys = [f"k{n}" for n in range(1, 6)]
    found = readback._retry(partial(readback._objects, s3, keys, {}, {}), time.monotonic() + 90, "S3", lambda m: None)
    assert found == {key: readback.digest(key.encode()) for key in keys}
    assert asked == ["k1", "k2", "k3", "k3", "k4", "k5"]  # not k1 and k2 again
