"""Scenario 6 (S3 multipart through a broken pipe) as users run it, its negative twin, and the S3
scenarios on the AWS-flavoured region (environments/localstack.yaml).

One stack per region, in a pytester subprocess each: on the default region scenario 6 passes and
its twin without client retries fails for ``failed_uploads``; on the LocalStack region scenario 6
passes, and so does scenario 7 with its AZ loss replaced by a link fault (LocalStack is regional:
no AZ of it to lose), as docs/stack.md says.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_scenario_twins import scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "examples" / "scenarios"
SCENARIO_6 = "test_06_s3_multipart_broken_pipe.py"

pytestmark = [pytest.mark.usefixtures("leaves_nothing_behind"), pytest.mark.slow]


def run(pytester: pytest.Pytester, environment: str) -> pytest.RunResult:
    pytester.makeconftest((SCENARIOS / "conftest.py").read_text())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", "-s",
                                           f"--azchaos-env={ROOT / 'environments' / environment}", timeout=900)
    print(result.stdout.str()[-5000:])
    return result


def slo_line(test: str, slo: str, verdict: str) -> str:
    return rf".*::{test}\s+{re.escape(slo)}\s+\S+\s+\S+\s+{verdict}"


def test_scenario_6_passes_and_its_twin_without_client_retries_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_s6=scenario(SCENARIO_6),
        test_twin_s6=scenario(SCENARIO_6, ("CLIENT_ATTEMPTS = 20", "CLIENT_ATTEMPTS = 1")),
    )
    result = run(pytester, "default.yaml")
    result.assert_outcomes(passed=1, failed=1)
    for slo in ("failed_uploads", "multipart_uploads_started", "retried_parts", "checksum_mismatches",
                "incomplete_uploads"):
        result.stdout.re_match_lines([slo_line("test_multipart_upload_retries_parts_through_a_broken_pipe",
                                               slo, "PASS")], consecutive=False)
    result.stdout.re_match_lines([r"scenario 6: 50 MB in 10 MB parts .* retried parts \[\d.*completed"],
                                 consecutive=False)
    result.stdout.re_match_lines([r".*test_twin_s6.py::\w+\s+failed_uploads\s+1\s+0\s+FAIL"], consecutive=False)
    result.stdout.re_match_lines([r"FAILED test_twin_s6.py::.*"], consecutive=False)


S3_LINK_INSTEAD_OF_AZ_LOSS = (
    'with azchaos.outage("b", mode="power"):  # its MinIO node with two drives, and its app replica',
    'with azchaos.toxic("b/app->s3", "latency", latency=200):  # LocalStack is regional: a link fault',
)


def test_the_localstack_region_passes_the_s3_scenarios(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_s6=scenario(SCENARIO_6),
        test_s7=scenario("test_07_object_storage_az_loss.py", S3_LINK_INSTEAD_OF_AZ_LOSS),
    )
    result = run(pytester, "localstack.yaml")
    result.assert_outcomes(passed=2)
    result.stdout.re_match_lines([r"scenario 6: 50 MB in 10 MB parts .* retried parts \[\d.*completed"],
                                 consecutive=False)
    result.stdout.re_match_lines([slo_line("test_objects_survive_the_loss_of_an_az", "lost_writes", "PASS")],
                                 consecutive=False)
