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
