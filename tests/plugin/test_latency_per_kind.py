"""Latency SLOs per operation kind through the plugin (pytester, on the stand-in stack of conftest.py):
the marker and the command line take ``p99={"read": ..., "write": ...}``, and the terminal summary, the
JSON report and the failure message name each kind, ``p99[write]``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "environments" / "minimal.yaml"

# Fast reads through the fake LB, and writes that take 3 s (a Python call). The reads' limit, 1.5 s,
# is far above their p99 on a busy CI runner (about 300 ms at load 12 on two cores; a 250 ms limit
# failed there) and far below the writes': p99 over all operations is a write's, p99 per kind is not.
_TEST_FILE = """
import time

import pytest

from pytest_azchaos.traffic import Call, Request


def slow_write(n):
    time.sleep(3)
    return f"key-{n}"


WORKLOAD = (Request("read", "GET", "/"), Call("write", slow_write, write=True))


@pytest.mark.slo(failed_requests=None, LIMITS)
def test_mixed(azchaos):
    with azchaos.traffic(rate_per_s=40, workload=WORKLOAD):
        azchaos.wait("500ms")
"""


def source(limits: str = "") -> str:
    """The test above with the marker's ``p99=`` (none: only the command line's)."""
    return _TEST_FILE.replace("LIMITS", f"p99={limits}" if limits else "")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", f"--azchaos-env={MINIMAL}", *args)


def test_each_kind_within_its_limit_passes_and_each_has_a_row(fake: pytest.Pytester) -> None:
    fake.makepyfile(source('{"read": "1500ms", "write": "10s"}'))
    result = run(fake)
    result.assert_outcomes(passed=1)
    result.stdout.re_match_lines([r".*azchaos SLOs.*", r".*::test_mixed\s+p99\[read\]\s+\S+\s+1\.5s\s+PASS",
                                  r".*::test_mixed\s+p99\[write\]\s+\S+\s+10\.0s\s+PASS"])
    report = json.loads((fake.path / "azchaos-report" / "report.json").read_text())
    slos = [(s["name"], s["verdict"]) for t in report["tests"] for s in t["slos"]]
    assert slos == [("p99[read]", "pass"), ("p99[write]", "pass")]
    assert "p99[write]" in (fake.path / "azchaos-report" / "report.html").read_text()


def test_a_slow_kind_fails_the_test_and_is_named(fake: pytest.Pytester) -> None:
    fake.makepyfile(source('{"read": "1500ms", "write": "100ms"}'))
    result = run(fake)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*SLO broken:*", "*p99[[]write[]] = * > 100 ms (of * answered requests): "
                                 "* took longer*"])
    result.stdout.no_fnmatch_line("*p99[[]read[]] = * > *")
    result.stdout.re_match_lines([r".*::test_mixed\s+p99\[read\]\s+\S+\s+1\.5s\s+PASS",
                                  r".*::test_mixed\s+p99\[write\]\s+\S+\s+100ms\s+FAIL"])


def test_the_command_line_takes_a_limit_per_kind(fake: pytest.Pytester) -> None:
    fake.makepyfile(source())
    result = run(fake, "--azchaos-slo", "p99[read]=1500ms", "--azchaos-slo", "p99[write]=100ms")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*p99[[]write[]] = * > 100 ms*"])
    result.stdout.re_match_lines([r".*::test_mixed\s+p99\[read\]\s+\S+\s+1\.5s\s+PASS"])


@pytest.mark.parametrize(("where", "error"), [
    ("marker", "ERROR: test_a_bad_limit_per_kind_is_one_usage_error.py:16: test_mixed: slo marker: SLO p99: "
               "expected at least one operation kind and its limit"),
    ("cli", "ERROR: --azchaos-slo / azchaos_slo: SLO p99[write]: expected a duration like '10s', '500ms' or '2m', "
            "found 'fast'"),
])
def test_a_bad_limit_per_kind_is_one_usage_error(fake: pytest.Pytester, where: str, error: str) -> None:
    fake.makepyfile(source("{}") if where == "marker" else source())
    result = run(fake, *(["--azchaos-slo", "p99[write]=fast"] if where == "cli" else []))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert error in result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
