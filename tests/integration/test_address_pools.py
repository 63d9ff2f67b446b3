"""An engine without an address range for another network: with Docker's default pools it holds
30 bridge networks, and a region takes one per AZ and one more, so a few stacks left running
(or left behind) exhaust it. The start that meets it says so, names the stacks holding the
ranges, and leaves nothing behind.

Every other network creation on this engine fails while the test holds the ranges (a few
seconds): run it alone, as CI runs the suite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from pytest_azchaos.backend import LABEL_OWNER, LABEL_RUN
from pytest_azchaos.stack.owner import owner_token


@pytest.fixture
def one_range_left(docker_client: docker.DockerClient) -> Iterator[str]:
    """Take every address range of the engine but one with the networks of a stack of this test
    process (so that no sweep removes them if it is killed: its owner lives); yield that run id."""
    run_id = f"fill{uuid.uuid4().hex[:6]}"
    labels = {LABEL_RUN: run_id, LABEL_OWNER: owner_token()}
    made: list[docker.models.networks.Network] = []
    try:
        while len(made) < 64:
            try:
                made.append(docker_client.networks.create(f"azchaos-{run_id}-{len(made)}", labels=labels))
            except docker.errors.APIError as exc:
                assert "address pool" in str(exc.explanation), exc  # the engine's words the error is told by
                break
        else:
            pytest.fail("the engine gave 64 networks an address range: its pools are not Docker's defaults")
        made.pop().remove()
        yield run_id
    finally:
        for network in made:
            network.remove()


@pytest.mark.usefixtures("leaves_nothing_behind")
def test_a_start_without_an_address_range_names_the_stacks_that_hold_them(
        pytester: pytest.Pytester, tiny_env: Path, one_range_left: str) -> None:
    pytester.makepyfile("def test_up(azchaos_stack):\n    pass\n")
    result = pytester.runpytest_subprocess(f"--azchaos-env={tiny_env}", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert "the Docker engine has no address range left for another network" in output, output
    assert f"other azchaos stack(s): {one_range_left} (" in output, output
    assert "'azchaos down --run-id RUN'" in output and "default-address-pools" in output, output
    assert "Traceback" not in output, output
