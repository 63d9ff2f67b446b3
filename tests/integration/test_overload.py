"""Past its capacity the region answers 503 with Retry-After, never 502 or a reset, and recovers."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from pytest_azchaos import Stack, load
from pytest_azchaos.experiment import Experiment
from pytest_azchaos.faults import LinkToxic
from pytest_azchaos.stack.roles.lb import IN_FLIGHT_PER_TARGET

ROOT = Path(__file__).resolve().parents[2]
IN_FLIGHT = 3 * IN_FLIGHT_PER_TARGET  # the LB's limit of requests inside the default region (3 targets)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    running = Stack(load(ROOT / "environments" / "default.yaml"), progress=lambda m: print(f"azchaos: {m}")).up()
    yield running
    running.down()


def get(url: str) -> tuple[int | str, str | None, str]:
    try:
        answer = requests.get(url, timeout=10)
    except requests.RequestException as exc:
        return type(exc).__name__, None, ""
    return answer.status_code, answer.headers.get("Retry-After"), answer.text


def test_requests_past_the_limit_get_503_with_retry_after_and_the_region_recovers(stack: Stack) -> None:
    experiment = Experiment(stack, read_back=None, watch=False)
    # Every target answers 1.5 s late: the requests pile up in the region as they would past capacity.
    slow = [LinkToxic(f"{m.az}/lb->{m.alias}", "latency", (("latency", 1500),)) for m in stack.members(role="app")]
    try:
        with experiment.combined(*slow), ThreadPoolExecutor(IN_FLIGHT + 72) as pool:
            answers = list(pool.map(get, [f"{stack.lb_url}/"] * (IN_FLIGHT + 72)))
        after = [get(f"{stack.lb_url}/") for _ in range(20)]
    finally:
        experiment.finish()
    statuses = collections.Counter(status for status, _, _ in answers)
    assert set(statuses) == {200, 503}, statuses
    assert statuses[503] >= 72, statuses
    overloaded = [(retry, body) for status, retry, body in answers if status == 503]
    assert all(retry == "1" and "overloaded" in body for retry, body in overloaded), overloaded[:3]
    assert [status for status, _, _ in after] == [200] * 20
