"""The plugin end to end, as users run it: pytester runs test files in a subprocess
against a real stack, and we assert their outcomes, including the runs that must fail."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "environments" / "minimal.yaml"
EXAMPLE = (ROOT / "examples" / "tests" / "test_az_outage.py").read_text()

pytestmark = pytest.mark.usefixtures("leaves_nothing_behind")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args, timeout=600)


def test_example_passes_and_prints_the_slo_table(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_example=EXAMPLE)
    result = run(pytester, f"--azchaos-env={MINIMAL}")
    result.assert_outcomes(passed=1)
    result.stdout.re_match_lines([
        r".*azchaos SLOs.*",
        r".*test_reads_survive_power_loss_of_az_a\s+failed_requests\s+0\s+0\s+PASS",
        r"azchaos report: .*report.html",
    ])
    assert (pytester.path / "azchaos-report" / "report.json").is_file()


def test_losing_every_az_breaks_the_slo(pytester: pytest.Pytester) -> None:
    """The negative control: with no AZ left, requests must fail and the check must say so."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.slo(failed_requests=0)
        def test_lose_everything(azchaos):
            with azchaos.traffic(rate_per_s=50):
                azchaos.wait("1s")
                with azchaos.outage("a"), azchaos.outage("b", steady=False):
                    azchaos.wait("4s")
        """
    )
    result = run(pytester, f"--azchaos-env={MINIMAL}")
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines([
        r".*failed_requests = \d+ > 0 \(of \d+ requests\): \d+ read did not succeed between "
        r"\+\d+\.\d s and \+\d+\.\d s after inject outage\([ab], power\).*",
        r".*test_lose_everything\s+failed_requests\s+[1-9]\d*\s+0\s+FAIL",
    ])


def test_without_lb_retries_losing_an_az_fails_requests(pytester: pytest.Pytester) -> None:
    """The same outage as the example, with the LB's retry disabled: the SLO must catch it."""
    env = MINIMAL.read_text().replace("retry: true", "retry: false")
    assert "retry: false" in env
    images = ROOT / "environments" / "images"
    pytester.path.joinpath("noretry.yaml").write_text(f"images: {images}\n{env}")
    pytester.makepyfile(test_example=EXAMPLE)
    result = run(pytester, "--azchaos-env=noretry.yaml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*failed_requests = * > 0 (of * requests)*outage(a, power)*"])


def test_check_in_code_raises_slo_violation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_azchaos import SLOViolation

        @pytest.mark.slo(failed_requests=None)  # the environment's default: checked in code below
        def test_code_check(azchaos):
            with azchaos.traffic(rate_per_s=20):
                azchaos.wait("1s")
            assert azchaos.check(failed_requests=0)[0].passed
            with azchaos.traffic(rate_per_s=20):
                with azchaos.outage("a"), azchaos.outage("b", steady=False):
                    azchaos.wait("2s")
            with pytest.raises(SLOViolation, match="failed_requests = [1-9]"):
                azchaos.check(failed_requests=0)
        """
    )
    result = run(pytester, f"--azchaos-env={MINIMAL}")
    result.assert_outcomes(passed=1)


def test_reuse_attaches_to_a_running_stack_and_leaves_it_running(pytester: pytest.Pytester) -> None:
    import json
    import subprocess
    import sys

    cli = [sys.executable, "-m", "pytest_azchaos.cli"]
    up = subprocess.run([*cli, "up", "--env", str(MINIMAL)], capture_output=True, text=True, timeout=300, check=False)
    assert up.returncode == 0, up.stderr
    run_id = json.loads(up.stdout)["run_id"]
    try:
        pytester.makepyfile(test_example=EXAMPLE)
        result = run(pytester, f"--azchaos-reuse={run_id}")
        result.assert_outcomes(passed=1)
        status = subprocess.run([*cli, "status", "--run-id", run_id, "--json"], capture_output=True, text=True,
                                timeout=60, check=False)
        assert status.returncode == 0, status.stderr
        assert all(m["state"] == "running" for m in json.loads(status.stdout)["members"])
    finally:
        subprocess.run([*cli, "down", "--run-id", run_id], check=True, timeout=120)
