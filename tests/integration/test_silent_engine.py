"""A Docker engine that stops answering in the middle of a run stops the run, with one clear message.

dockerd 20.10 can deadlock its networking after hours of container churn (seen in this project's CI):
``docker info`` still answers, every call that touches a network waits forever. Before, each test
left waited out the engine's timeout (60 s a call, several calls a test) and failed on its own. Now
the test during which the engine went silent fails, the engine is asked once more, and the run stops:
pytest's "Interrupted" line says why and what to do, the tests left do not run, the exit is non-zero,
and report.html says so above its verdicts (checked in headless Chromium).

The engine here is this machine's, through :class:`SilentEngine`, which swallows every request once
the second test asks it to."""

from __future__ import annotations

import re
import time
from pathlib import Path

import docker
import pytest
from headless_chromium import open_page
from silent_engine import SilentEngine

from pytest_azchaos.stack.backend import DockerBackend

pytestmark = [pytest.mark.usefixtures("leaves_nothing_behind"), pytest.mark.slow]

TESTS = '''
import os
from pathlib import Path


def test_1_before(azchaos):
    with azchaos.outage("a", mode="freeze", steady=False):
        pass


def test_2_engine_goes_silent(azchaos):
    Path(os.environ["ENGINE_HANGS"]).touch()
    with azchaos.outage("a", steady=False):
        pass


def test_3_never_runs(azchaos):
    pass


def test_4_never_runs(azchaos):
    pass
'''

# The stop's paragraph on report.html: its text, and whether it comes after the verdicts table.
STOPPED = """(() => {
  const p = document.querySelector('p.stopped'), table = document.querySelector('table.verdicts');
  return p && table ? [p.innerText, !!(p.compareDocumentPosition(table) & Node.DOCUMENT_POSITION_PRECEDING)] : null;
})()"""

TIMEOUT_S = 20  # the engine's timeout for this run (AZCHAOS_ENGINE_TIMEOUT); 60 s by default


def test_a_silent_engine_stops_the_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                       tiny_env: Path, docker_client: docker.DockerClient) -> None:
    pytester.makepyfile(test_silent=TESTS)
    with SilentEngine(pytester.path) as engine:
        monkeypatch.setenv("DOCKER_HOST", engine.url)
        monkeypatch.setenv("AZCHAOS_ENGINE_TIMEOUT", str(TIMEOUT_S))
        monkeypatch.setenv("ENGINE_HANGS", str(engine.flag))
        started = time.monotonic()
        result: pytest.RunResult | None = None
        try:
            result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--azchaos-env={tiny_env}",
                                                   "--azchaos-report=out", timeout=600)
        finally:  # the engine answers again: remove what the run could not (unless another start swept it)
            engine.answer()
            run_ids = re.findall(r"azchaos: starting stack (\w+) ", result.stdout.str() if result else "")
            for run_id in run_ids:
                DockerBackend(docker_client).remove_run(run_id)
        took = time.monotonic() - started
    assert result is not None
    out = result.stdout.str()
    print(out[-5000:])
    print(f"took {took:.0f} s; stacks of the run: {run_ids}")

    result.assert_outcomes(passed=1, failed=1, errors=1)  # the heal after the test 2 could not run either
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "test_3_never_runs" not in out and "test_4_never_runs" not in out
    result.stdout.fnmatch_lines([
        "*Interrupted: azchaos: the Docker engine stopped answering during "
        "test_silent.py::test_2_engine_goes_silent (*) and still does not list containers and networks*"
        "the run stops here; run 'azchaos engine'*",
    ])
    assert "Traceback" not in out
    # The report, in a browser: the run stopped, why, and how many tests did not run, above the verdicts.
    page = open_page((pytester.path / "out" / "report.html").as_uri(), probe=STOPPED)
    assert page.errors == [] and page.value is not None, page
    shown, below_the_verdicts = page.value
    assert shown.startswith("The run stopped before its last test: azchaos: the Docker engine stopped answering "
                            "during test_silent.py::test_2_engine_goes_silent ("), shown
    assert shown.endswith(" 2 selected test(s) did not run.") and not below_the_verdicts, shown
    # The stack could not be removed while the engine was silent: the session said which and how.
    (run_id,) = run_ids
    result.stdout.fnmatch_lines([f"azchaos: ERROR: stack {run_id} was not removed: removing stack {run_id}: the Docker "
                                 f"engine did not answer (*); run 'azchaos engine'*. The next start of a stack on this "
                                 f"host removes it, as does 'azchaos down --run-id {run_id}'"])
