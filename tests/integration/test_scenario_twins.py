"""The seed scenarios of examples/scenarios/ as users run them (pytester), and their negative twins:
each twin is a scenario with its protection removed, and it MUST fail for the SLO it names.

Scenarios 1 and 2 have theirs in test_slos_region.py (no LB retry). Five regions, one stack each:
the default one (scenario 5 passes; 4 with every AZ slow fails, and 10 on a bucket without
default encryption), an unprotected one (asynchronous replication, an app without retries, object
storage in two AZs: 3, 5 and 7 fail), scenario 8's DB cluster (8 passes; reading from the reader
endpoint fails), scenario 10's encrypted bucket (10 passes), and the auto scaling region without
replacement (9 fails).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "examples" / "scenarios"

pytestmark = [pytest.mark.usefixtures("leaves_nothing_behind"), pytest.mark.slow]

# The example app without its retries: a statement that fails on a broken pooled connection is not
# tried again on a new one, and an item read that finds no DB endpoint is not retried.
NO_RETRIES = """
import sys
sys.path.insert(0, "/app")
import app
take = app.Connections.take
app.Connections.take = lambda self: (take(self)[0], False)
app.READ_RETRY_S = 0
app.main()
"""
APP_WITHOUT_RETRIES = json.dumps(["python3", "-u", "-c", NO_RETRIES])  # YAML takes JSON


def scenario(name: str, *replacements: tuple[str, str]) -> str:
    """The text of a scenario module, with ``replacements`` (each must be found exactly once)."""
    text = (SCENARIOS / name).read_text()
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} not found once in {name}"
        text = text.replace(old, new)
    return text


def environment(pytester: pytest.Pytester, name: str, source: Path, *replacements: tuple[str, str]) -> str:
    """Write a variant of the environment ``source`` next to the test files; return the option."""
    text = source.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} not found once in {source}"
        text = text.replace(old, new)
    text = re.sub(r"(?m)^images: .*\n", "", text)  # a relative recipe folder would not be found from here
    pytester.path.joinpath(f"{name}.yaml").write_text(text)  # no images/ beside it: the bundled recipes
    return f"--azchaos-env={name}.yaml"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makeconftest((SCENARIOS / "conftest.py").read_text())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args, timeout=900)
    print(result.stdout.str()[-4000:])
    return result


def broke(result: pytest.RunResult, test: str, slo: str) -> None:
    """Assert that ``test`` failed, and that its failure names the SLO ``slo`` as broken."""
    result.stdout.re_match_lines([rf".*::{test}\s+{re.escape(slo)}\s+\S+\s+\S+\s+FAIL"], consecutive=False)
    result.stdout.re_match_lines([rf"FAILED .*::{test}\b.*"], consecutive=False)


def test_default_region_scenarios_pass_and_twins_without_protection_fail(pytester: pytest.Pytester) -> None:
    """Scenario 5 passes on the default region; 4 with every AZ slow breaks p50 (its test of the
    replication link does not depend on the slow AZs, and passes); 10 on the default region, whose
    bucket has no default encryption, breaks unencrypted_objects."""
    pytester.makepyfile(
        test_s5=scenario("test_05_dropped_db_connections.py"),
        test_twin_s4=scenario("test_04_inter_az_latency.py", ('SLOW_AZS = ("c",)', 'SLOW_AZS = ("a", "b", "c")')),
        test_twin_s10=scenario("test_10_encrypted_objects.py", (ENCRYPTED_REGION, "pytestmark = []")),
    )
    result = run(pytester, "--azchaos-env=default")
    result.assert_outcomes(passed=2, failed=2)
    broke(result, "test_latency_into_one_az_stays_within_budget_per_percentile", "p50")
    broke(result, "test_encrypted_objects_survive_the_loss_of_an_az", "unencrypted_objects")
    result.stdout.re_match_lines([r".*unencrypted_objects = (\d+) > 0: of \1 acknowledged objects; first \S+: not "
                                  r"encrypted \(the bucket has no default encryption\).*"])


ENCRYPTED_REGION = 'pytestmark = pytest.mark.azchaos_env("sse-kms.yaml")'


def test_encrypted_objects_on_the_sse_kms_region(pytester: pytest.Pytester) -> None:
    """Scenario 10 passes on its region, whose bucket encrypts every object with SSE-KMS: no read
    fails and no object is lost while AZ b is down, and S3 says every object is encrypted."""
    pytester.makepyfile(test_s10=scenario("test_10_encrypted_objects.py"))
    environment(pytester, "sse-kms", SCENARIOS / "sse-kms.yaml")  # its marker names it beside the tests
    result = run(pytester)
    result.assert_outcomes(passed=1)
    result.stdout.re_match_lines([r".*::test_encrypted_objects_survive_the_loss_of_an_az\s+unencrypted_objects\s+0\s+0\s+PASS"])


def test_read_after_write_on_the_db_cluster(pytester: pytest.Pytester) -> None:
    """Scenario 8 passes on its DB cluster, where the replication link into the asynchronous
    reader's AZ is slowed; reading the writes back from the reader endpoint breaks stale_reads."""
    pytester.makepyfile(
        test_s8=scenario("test_08_read_after_write.py"),
        test_twin_s8=scenario("test_08_read_after_write.py", ('READ_FROM = "writer"', 'READ_FROM = "reader"')),
    )
    environment(pytester, "db-cluster", SCENARIOS / "db-cluster.yaml")  # its marker names it beside the tests
    result = run(pytester, "-k", "not twin_s8 or writer")
    result.assert_outcomes(passed=2, failed=1)
    broke(result, "test_reads_right_after_writes_are_never_stale_on_the_writer", "stale_reads")
    result.stdout.re_match_lines([r".*stale_reads = [1-9]\d* > 0 \(of \d+ reads of acknowledged writes\).*"])


def test_unprotected_region_twins_fail(pytester: pytest.Pytester) -> None:
    """Asynchronous replication: the cut-off primary acknowledges writes (scenario 3); an app without
    retries fails requests on dropped connections (5); object storage in two AZs loses its write
    quorum with one of them (7)."""
    pytester.makepyfile(test_twin_s3=scenario("test_03_partition.py"),
                        test_twin_s5=scenario("test_05_dropped_db_connections.py"),
                        test_twin_s7=scenario("test_07_object_storage_az_loss.py"))
    env = environment(pytester, "unprotected", ROOT / "environments" / "default.yaml",
                      ("synchronous: true", "synchronous: false"),
                      ("    health: /healthz\n", f"    health: /healthz\n    command: {APP_WITHOUT_RETRIES}\n"),
                      ("  s3:\n    role: s3\n", "  s3:\n    role: s3\n    azs: [a, b]\n"))
    result = run(pytester, env)
    result.assert_outcomes(failed=3)
    broke(result, "test_a_healed_partition_causes_no_second_outage", "old_primary_writes")
    broke(result, "test_dropped_db_connections_are_retried", "failed_ratio")
    broke(result, "test_objects_survive_the_loss_of_an_az", "failed_puts")


def test_capacity_is_not_restored_without_replacement(pytester: pytest.Pytester) -> None:
    """Scenario 9 on the auto scaling region without replace_after: capacity_restored breaks."""
    pytester.makepyfile(test_twin_s9=scenario("test_09_capacity.py"))
    source = SCENARIOS / "autoscaling.yaml"
    replace_after = next(line for line in source.read_text().splitlines(keepends=True) if "replace_after:" in line)
    result = run(pytester, environment(pytester, "no-replacement", source, (replace_after, "")))
    result.assert_outcomes(failed=1)
    broke(result, "test_capacity_is_restored_while_an_az_is_down", "capacity_restored")
    result.stdout.re_match_lines([r".*capacity_restored = never > 60\.0 s: after outage\(a, power\), 2 of 3 app "
                                  r"replicas healthy from \+\d+\.\d s; no replacement before the heal.*"])
