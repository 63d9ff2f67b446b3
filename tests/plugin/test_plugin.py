"""The pytest layer, run as users run it (pytester), on a stand-in stack: fast, no Docker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_azchaos import report_schema

from .conftest import FAKE_CONFTEST

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "environments" / "minimal.yaml"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", f"--azchaos-env={MINIMAL}", *args)


def test_help_shows_the_option_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*chaos tests of multi-AZ stacks (pytest-azchaos)*", "*--azchaos-env=FILE*",
                                 "*--azchaos-keep*", "*--azchaos-reuse=RUN_ID*"])


def test_slo_marker_passes_and_is_summarised(fake: pytest.Pytester) -> None:
    fake.makepyfile(
        """
        import pytest

        @pytest.mark.slo(failed_requests=0)
        def test_ok(azchaos):
            with azchaos.traffic(rate_per_s=100):
                azchaos.wait("300ms")
        """
    )
    result = run(fake)
    result.assert_outcomes(passed=1)
    result.stdout.re_match_lines([r".*azchaos SLOs.*", r"test_slo_marker_passes_and_is_summarised.py::test_ok\s+"
                                  r"failed_requests\s+0\s+0\s+PASS", r"azchaos report: .*report.html"])


def test_slo_marker_fails_when_every_az_is_lost(fake: pytest.Pytester) -> None:
    fake.makepyfile(
        """
        import pytest

        @pytest.mark.slo(failed_requests=0)
        def test_lose_all(azchaos):
            with azchaos.traffic(rate_per_s=100):
                with azchaos.outage("a"), azchaos.outage("b", steady=False):
                    azchaos.wait("300ms")
        """
    )
    result = run(fake)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*SLO broken:*", "*failed_requests = * > 0 (of * requests): * read did not succeed "
                                 "between * s and +* s after inject outage(?, power) (*x HTTP 503)*"])
    # ... grouped by the replica the LB sent them to (its X-Azchaos-Upstream answer)
    result.stdout.fnmatch_lines(
        ["*failed_requests = *by cause: *x read HTTP 503 from app-a-1 during outage(a, power)*"])


def test_environment_default_slo_applies_to_traffic_and_can_be_switched_off(fake: pytest.Pytester) -> None:
    fake.makepyfile(
        """
        import pytest

        def test_default_applies(azchaos):
            with azchaos.traffic(rate_per_s=100):
                with azchaos.outage("a"), azchaos.outage("b", steady=False):
                    azchaos.wait("300ms")

        @pytest.mark.slo(failed_requests=None)
        def test_switched_off(azchaos):
            with azchaos.traffic(rate_per_s=100):
                with azchaos.outage("a"), azchaos.outage("b", steady=False):
                    azchaos.wait("300ms")

        def test_no_traffic_no_default(azchaos):
            pass
        """
    )
    result = run(fake)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED *test_default_applies*"])


def test_faults_are_healed_even_when_the_test_raises(fake: pytest.Pytester) -> None:
    fake.makepyfile(
        """
        import pytest

        def test_boom(azchaos):
            azchaos.outage("a", mode="freeze")
            raise RuntimeError("boom")

        def test_next_starts_healthy(azchaos_stack):
            assert azchaos_stack.backend.down == set()
        """
    )
    result = run(fake)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: boom*"])


def test_stack_is_started_once_and_removed_at_the_end(fake: pytest.Pytester) -> None:
    fake.makepyfile(
        """
        def test_one(azchaos): pass
        def test_two(azchaos): pass
        """
    )
    result = run(fake)
    result.assert_outcomes(passed=2)
    assert result.stdout.str().count("FAKE STACK UP") == 1
    assert result.stdout.str().count("FAKE STACK DOWN") == 1


def test_keep_leaves_the_stack_running(fake: pytest.Pytester) -> None:
    fake.makepyfile("def test_one(azchaos): pass")
    result = run(fake, "--azchaos-keep")
    result.assert_outcomes(passed=1)
    assert "FAKE STACK DOWN" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*--azchaos-keep: stack fake-minimal left running*"
                                 "azchaos down --run-id fake-minimal*"])


def test_unknown_az_fails_the_test_with_a_clear_message(fake: pytest.Pytester) -> None:
    fake.makepyfile("def test_bad(azchaos):\n    azchaos.outage('z')\n")
    result = run(fake)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ConfigError: *unknown AZ 'z': expected one of a, b*"])


def test_bad_environment_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one(azchaos): pass")
    pytester.path.joinpath("bad.yaml").write_text("azs: [a]\nservices:\n  app: {role: ap, image: x}\n")
    result = pytester.runpytest_subprocess("--azchaos-env=bad.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--azchaos-env: bad.yaml:3: unknown role 'ap': expected one of etcd, db, s3, toxiproxy, app, lb*"])
    missing = pytester.runpytest_subprocess("--azchaos-env=missing.yaml")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["*missing.yaml: environment file not found*"])


def test_no_engine_fails_tests_with_one_clear_line(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    pytester.makepyfile("def test_one(azchaos): pass\ndef test_two(azchaos): pass\n")
    result = pytester.runpytest_subprocess(f"--azchaos-env={MINIMAL}", "--azchaos-report=out")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*azchaos: the stack could not start: no Docker engine answers*"])
    assert "During handling" not in result.stdout.str()  # one error, not the engine's chained below it
    tests = json.loads((pytester.path / "out" / "report.json").read_text())["tests"]  # why, in the report too
    assert [(t["verdict"], t["reason"].split(" answers")[0]) for t in tests] == \
        [("failed", "error in setup: azchaos: the stack could not start: no Docker engine")] * 2


# The fake engine stops answering at the first fault: its kill fails as a real call that timed out.
SILENT_KILL = """

import requests

from pytest_azchaos.stack.backend import engine_error


def silent_kill(self, names):
    timed_out = requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)")
    raise engine_error(f"killing container {names[0]}", timed_out)


FakeBackend.kill = silent_kill
"""
SILENT_TESTS = "\n".join(f"def test_{n}(azchaos):\n    {body}\n" for n, body in [
    (1, "pass"), (2, "azchaos.outage('a')"), (3, "pass"), (4, "pass"), (5, "pass"), (6, "pass")])


# With xdist, the tests go to one worker (loadfile): spread over two, the other worker may finish its own
# share before the stop arrives, and the count of those that did not run would depend on timing.
@pytest.mark.parametrize("workers", [[], ["-n", "2", "--dist", "loadfile"]], ids=["one process", "xdist"])
def test_an_engine_gone_silent_stops_the_run(fake: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path, workers: list[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")  # the check afterwards: no answer
    fake.makeconftest(FAKE_CONFTEST + SILENT_KILL)
    fake.makepyfile(SILENT_TESTS)
    result = run(fake, *workers, "-p", "no:randomly")
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([
        "*Interrupted: azchaos: the Docker engine stopped answering during test_an_engine_gone_silent_stops_the_run"
        ".py::test_2 (killing container azchaos-fake-minimal-app-a-1: Read timed out. (read timeout=60)) and still"
        " does not list containers and networks (*); each test left would wait for it, so the run stops here; "
        "run 'azchaos engine'*"])
    outcomes = result.parseoutcomes()
    assert outcomes == {"failed": 1, "passed": 1}, out  # no test after it ran
    if not workers:  # (a worker's own output is not shown)
        assert "test_3" not in out
        assert "FAKE STACK DOWN" in out  # and the stack went
    # The report says so too: the tests that did not run are in none of its tables.
    data = json.loads((fake.path / "azchaos-report" / "report.json").read_text())
    assert data["stopped"].startswith("azchaos: the Docker engine stopped answering during "), data["stopped"]
    assert data["summary"]["not_run"] == 6 - outcomes["passed"] - outcomes["failed"]
    page = (fake.path / "azchaos-report" / "report.html").read_text()
    assert "<p class=stopped><b>The run stopped before its last test:</b> azchaos: the Docker engine" in page
    assert f"{data['summary']['not_run']} selected test(s) did not run.</p>" in page


@pytest.mark.parametrize(("args", "stopped"), [
    (["-x"], "stopping after 1 failures"),
    (["-x", "-n", "2", "--dist", "loadfile"], "stopping after 1 failures"),  # one worker: see above
    ([], None),
], ids=["-x", "-x with xdist", "to the end"])
def test_the_report_says_when_the_run_stopped_before_its_last_test(fake: pytest.Pytester, args: list[str],
                                                                    stopped: str | None) -> None:
    fake.makepyfile("\n".join(f"def test_{n}(azchaos):\n    assert {n} != 2\n" for n in range(1, 7)))
    result = run(fake, *args, "-p", "no:randomly")
    data = json.loads((fake.path / "azchaos-report" / "report.json").read_text())
    outcomes = result.parseoutcomes()
    if stopped is None:
        assert "stopped" not in data and "not_run" not in data["summary"]
        assert "class=stopped" not in (fake.path / "azchaos-report" / "report.html").read_text()
    else:
        assert data["stopped"] == stopped
        assert data["summary"]["not_run"] == 6 - outcomes["passed"] - outcomes["failed"]
    assert outcomes == ({"passed": 5, "failed": 1} if stopped is None else {"failed": 1, "passed": 1})
    report_schema.validate(data)


def test_an_engine_silent_for_a_moment_does_not_stop_the_run(fake: pytest.Pytester) -> None:
    fake.makeconftest(FAKE_CONFTEST + SILENT_KILL + """
import pytest_azchaos.plugin
pytest_azchaos.plugin.engine_silence = lambda: None  # asked again, the engine answers
""")
    fake.makepyfile(SILENT_TESTS)
    result = run(fake)
    result.assert_outcomes(passed=5, failed=1)
    assert "Interrupted" not in result.stdout.str()


def test_a_stack_that_cannot_be_removed_at_the_end_fails_the_run_with_one_clear_line(fake: pytest.Pytester) -> None:
    fake.makeconftest(FAKE_CONFTEST + """

from pytest_azchaos.errors import EngineError


def down(self):
    raise EngineError("removing stack fake-minimal: the Docker engine did not answer (Read timed out.)")


FakeStack.down = down
""")
    # The run ends itself with status 0 before the last test that needs the stack: the session's end removes it.
    fake.makepyfile("import pytest\ndef test_one(azchaos): pytest.exit('enough', returncode=0)\n"
                    "def test_two(azchaos): pass\n")
    result = run(fake)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # not 0: the stack is still up
    result.stdout.fnmatch_lines(["azchaos: ERROR: stack fake-minimal was not removed: removing stack fake-minimal: "
                                 "the Docker engine did not answer (Read timed out.). The next start of a stack on "
                                 "this host removes it, as does 'azchaos down --run-id fake-minimal'",
                                 "*Exit: enough*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_with_xdist_a_stack_a_worker_cannot_remove_fails_the_run_with_one_clear_line(fake: pytest.Pytester) -> None:
    """A worker removes at its session's end a stack whose last test another worker ran: where that
    fails, the worker's own exit status is lost in xdist, so the controller says it and fails the run."""
    fake.makeconftest(FAKE_CONFTEST + """
import inspect

from pytest_azchaos.errors import EngineError


def down(self):
    if any(frame.function == "release_after" for frame in inspect.stack()):
        return 0  # removed after the last test that needs it: the worker that ran it reports nothing
    raise EngineError("removing stack fake-minimal: the Docker engine did not answer (Read timed out.)")


FakeStack.down = down
""")
    # Each worker starts the stack for its first test; only one runs the last that needs it.
    fake.makepyfile("import time\n" + "".join(f"def test_{n}(azchaos): time.sleep(0.5)\n" for n in range(4)))
    result = run(fake, "-n", "2", "--dist", "load")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["azchaos: ERROR: worker gw?: stack fake-minimal was not removed: removing stack "
                                 "fake-minimal: the Docker engine did not answer (Read timed out.). The next start "
                                 "of a stack on this host removes it, as does 'azchaos down --run-id fake-minimal'"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # not 0: a stack is still up
    output = result.stdout.str() + result.stderr.str()
    assert output.count("was not removed") == 1, output  # said once, by the controller
    assert "Traceback" not in output


def test_latency_slos_pass_and_fail_with_the_measured_value(fake: pytest.Pytester) -> None:
    fake.makepyfile(
        """
        import pytest

        @pytest.mark.slo(p99="10s", availability="99%")
        def test_generous(azchaos):
            with azchaos.traffic(rate_per_s=100):
                azchaos.wait("300ms")

        @pytest.mark.slo(max_latency="0ms")
        def test_impossible(azchaos):
            with azchaos.traffic(rate_per_s=100):
                azchaos.wait("300ms")
        """
    )
    result = run(fake)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*SLO broken:*",
                                 "*max_latency = * ms > 0 ms (of * answered requests): * took longer*"])
    result.stdout.re_match_lines([r".*::test_generous\s+p99\s+\d+ms\s+10.0s\s+PASS",
                                  r".*::test_generous\s+availability\s+100.00%\s+>=99.00%\s+PASS"])


def test_command_line_slos_apply_to_every_test_with_traffic(fake: pytest.Pytester) -> None:
    fake.makepyfile(
        """
        def test_lose_all(azchaos):
            with azchaos.traffic(rate_per_s=100):
                with azchaos.outage("a"), azchaos.outage("b", steady=False):
                    azchaos.wait("300ms")
        """
    )
    fake.makeini("[pytest]\nazchaos_slo =\n    failed_requests=1000000\n")
    assert run(fake).ret == 0  # the ini is generous (the environment's default of 0 is overridden)
    result = run(fake, "--azchaos-slo", "failed_requests[read]=0")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*failed_requests[[]read[]] = * > 0*"])


@pytest.mark.parametrize(("arg", "error"), [
    ("bogus=1", "unknown SLO 'bogus'"),
    ("p99", "expected NAME=LIMIT like failed_requests=0 or p99=500ms, found 'p99'"),
    ("p99=fast", "SLO p99: expected a duration like '10s'"),
])
def test_bad_command_line_slo_is_a_usage_error(fake: pytest.Pytester, arg: str, error: str) -> None:
    fake.makepyfile("def test_one(azchaos): pass")
    result = run(fake, "--azchaos-slo", arg)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--azchaos-slo / azchaos_slo: *{error}*"])
    result.stdout.no_fnmatch_line("*FAKE STACK UP*")


def test_unknown_slo_in_a_marker_is_a_usage_error_before_anything_runs(fake: pytest.Pytester) -> None:
    fake.makepyfile(
        """
        import pytest

        @pytest.mark.slo(p95="1s")
        def test_typo(azchaos):
            with azchaos.traffic(rate_per_s=50):
                azchaos.wait("100ms")
        """
    )
    result = run(fake)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_unknown_slo_in_a_marker_*.py:3: test_typo: slo marker: "
                                 "unknown SLO 'p95': expected one of failed_requests, *"])
    assert "FAKE STACK" not in result.stdout.str()  # no stack was started


def test_lost_writes_reads_back_through_the_hook_and_fails_on_a_loss(fake: pytest.Pytester) -> None:
    fake.makeconftest(FAKE_CONFTEST + '''
from pytest_azchaos.client import digest

@pytest.hookimpl
def pytest_azchaos_read_back(stack, keys):
    # every acknowledged write is found, except key "k1" (a loss)
    return {key: digest("v" + key[1:]) for key in keys if key != "k1"}
''')
    fake.makepyfile(
        """
        import time

        import pytest
        from pytest_azchaos.traffic import Request

        WRITES = [Request("write", "GET", "/", body="v{n}", key="k{n}")]

        @pytest.mark.slo(lost_writes=0)
        def test_loss_is_found(azchaos):
            with azchaos.traffic(rate_per_s=50, workload=WRITES):
                # Until k1 is acknowledged, not for a fixed time: a busy host may send only k0 in 200 ms.
                deadline = time.monotonic() + 30
                while not any(op.key == "k1" and op.outcome == "ok" for op in azchaos.history.operations):
                    assert time.monotonic() < deadline, "k1 was never acknowledged"
                    time.sleep(0.05)
        """
    )
    result = run(fake)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*lost_writes = 1 > 0 (of * acknowledged writes; 0 with unknown outcome, not "
                                 "counted): 1 missing, 0 changed*keys k1*"])


def test_the_watch_records_what_it_sees_on_the_timeline(fake: pytest.Pytester) -> None:
    """The stand-in stack's looks report each app replica's health: an outage shows up as events."""
    fake.makepyfile(
        """
        import time

        def test_outage(azchaos):
            with azchaos.outage("a", mode="power"):
                deadline = time.monotonic() + 10
                while not any(e.kind == "target" and e.detail == "unhealthy" for e in azchaos.timeline.events):
                    assert time.monotonic() < deadline, "the watch recorded no unhealthy target"
                    time.sleep(0.1)
            deadline = time.monotonic() + 10
            while sum(e.kind == "target" and e.detail == "healthy" for e in azchaos.timeline.events) < 2:
                assert time.monotonic() < deadline, "the watch recorded no healthy target again"
                time.sleep(0.1)
            unhealthy = {e.subject for e in azchaos.timeline.events if e.detail == "unhealthy"}
            assert unhealthy == {"app-a-1", "app-a-2"}, unhealthy
        """
    )
    run(fake).assert_outcomes(passed=1)
