"""The pytest entry point: options, markers, hooks and fixtures. Glue only."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import checks, hookspecs, readback
from .checks import SLOResult
from .errors import AzChaosError, ConfigError, NotSteady, StackError
from .experiment import Experiment
from .faults import Fault
from .faults.registry import FaultRegistry, default_registry
from .report import AFTER_PROTOCOL, Reporter
from .resources import bundled_environments, environment_file
from .stack import Stack, images, reaper
from .stack.backend import ENGINE_HINT, DockerBackend, engine_silence, unanswered_calls
from .timeline import Event
from .topology import load

_STATE = pytest.StashKey["_SessionState"]()


class _EnvironmentStack:
    """One environment's stack, started lazily by the first test that asks for it, stopped by _SessionState."""

    def __init__(self, config: pytest.Config, env: str, *, reuse: str | None = None) -> None:
        self.config = config
        self.env = env  # an environment file, or the name of a bundled one
        self.reuse = reuse  # --azchaos-reuse: attach to this run instead of starting one
        self.stack: Stack | None = None
        self.owned = False  # False when attached with --azchaos-reuse: never stopped by us
        self.error: AzChaosError | None = None
        self.guard: reaper.Guard | None = None

    def progress(self, message: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        worker = getattr(self.config, "workerinput", {}).get("workerid")
        if reporter is None or capture is None:
            print(f"azchaos: {message}", flush=True)
            return
        with capture.global_and_fixture_disabled():
            if worker:  # a pytest-xdist worker's terminal goes nowhere; its stderr is the controller's,
                # shared by every worker: one write per line, so that their lines do not interleave
                sys.stderr.write(f"azchaos [{worker}]: {message}\n")
                sys.stderr.flush()
            else:
                reporter.write_line(f"azchaos: {message}")

    def get(self) -> Stack:
        return self.stack or self.start()

    def start(self) -> Stack:
        if self.error is not None:  # the stack failed once: do not retry for every test
            raise self.error
        try:
            if self.reuse:
                self.stack = Stack.attach(self.reuse, progress=self.progress)
                return self.stack
            env_path = str(environment_file(self.env))
            made: Stack = self.config.hook.pytest_azchaos_make_stack(config=self.config, env_path=env_path)
            self.stack, self.owned = made, True
            self.guard = reaper.Guard(made.backend, made.run_id, self.progress)
            made.up()
        except AzChaosError as exc:
            self.error = exc
            raise
        self.config.hook.pytest_azchaos_stack_ready(stack=made)
        return made

    def stop(self) -> None:
        stack, self.stack = self.stack, None
        try:
            if stack is None or not self.owned:
                return
            if self.config.getoption("azchaos_keep"):
                if isinstance(stack.backend, DockerBackend):  # neither the reaper nor a later sweep removes it
                    stack.backend.mark_kept(stack.run_id)
                self.progress(f"--azchaos-keep: stack {stack.run_id} left running{stack.at()}; "
                              f"remove it with 'azchaos down --run-id {stack.run_id}'")
                return
            try:
                removed = stack.down()
            except AzChaosError as exc:
                raise StackError(f"stack {stack.run_id} was not removed: {exc}. The next start of a stack on this "
                                 f"host removes it, as does 'azchaos down --run-id {stack.run_id}'") from None
            self.progress(f"stack {stack.run_id} removed ({removed} objects)")
        finally:  # only once the stack is gone: if this process is killed while removing, the reaper finishes
            if self.guard is not None:
                self.guard.release()
                self.guard = None


class _SessionState:
    """The session's stacks: its environment's (``--azchaos-env``, or the one ``--azchaos-reuse`` attaches
    to), and one per other environment that tests name with the ``azchaos_env`` marker. Each is started
    by the first test that needs it, shared by the tests of its environment, and removed right after the
    last test that needs it (an idle region takes CPU and memory from the one under test), or at session end."""

    def __init__(self, config: pytest.Config) -> None:
        opt = config.getoption
        self.config = config
        self.session = _EnvironmentStack(config, opt("azchaos_env") or config.getini("azchaos_env"),
                                         reuse=opt("azchaos_reuse"))
        self.marked: dict[str, _EnvironmentStack] = {}  # resolved environment file -> its stack
        self.last_use: dict[str | None, str] = {}  # environment (None: the session's) -> the last test needing it

    def stack(self, env_path: str | None = None) -> Stack:
        """Return the running stack of ``env_path`` (a resolved environment file; None: the session's)."""
        if env_path is None or env_path == self._session_path():
            return self.session.get()
        if env_path not in self.marked:
            self.marked[env_path] = _EnvironmentStack(self.config, env_path)
        return self.marked[env_path].get()

    def _session_path(self) -> str | None:
        try:
            return str(environment_file(self.session.env).resolve())
        except ConfigError:  # a bad ini value: the session's stack says so when it starts
            return None

    def plan(self, items: list[pytest.Item]) -> None:
        """Note the last test that needs each environment's stack, among the tests that will run."""
        self.last_use = {}
        for item in items:
            for env in self._needs(item):
                self.last_use[env] = item.nodeid

    def _needs(self, item: pytest.Item) -> set[str | None]:
        names = getattr(item, "fixturenames", ())
        needs: set[str | None] = {None} if "azchaos_stack" in names else set()
        if "azchaos" in names:
            try:
                env = _marked_environment(item)
            except ConfigError:  # the test fails on its marker; keep the session's stack for it
                env = None
            needs.add(None if env == self._session_path() else env)
        return needs

    def release_after(self, item: pytest.Item) -> None:
        """Stop the stacks that no test after ``item`` needs: removed, or with --azchaos-keep left running."""
        for env in [env for env, last in self.last_use.items() if last == item.nodeid]:
            each = self.session if env is None else self.marked.get(env)
            if each is not None and each.stack is not None:
                each.stop()

    def stop(self) -> None:
        """Remove every stack (the session's last): one that fails to go does not keep the others up, and
        the StackError raised at the end names each that failed. (Ctrl-C here: pytest_unconfigure tries again.)"""
        problems = []
        for each in (*reversed(self.marked.values()), self.session):
            try:
                each.stop()
            except AzChaosError as exc:
                problems.append(str(exc))
        if problems:
            raise StackError("; ".join(problems))


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("azchaos", "chaos tests of multi-AZ stacks (pytest-azchaos)")
    group.addoption("--azchaos-env", dest="azchaos_env", metavar="FILE",
                    help="environment file, or the name of a bundled one (default: default)")
    group.addoption("--azchaos-images", dest="azchaos_images", choices=images.MODES,
                    default=os.environ.get("AZCHAOS_IMAGES", "auto"),
                    help="auto: official images if present or pullable, else build offline (default); "
                         "offline: always build from recipes; official: pull only")
    group.addoption("--azchaos-keep", dest="azchaos_keep", action="store_true",
                    help="leave the stack running after the session, for debugging")
    group.addoption("--azchaos-reuse", dest="azchaos_reuse", metavar="RUN_ID",
                    help="attach to a running stack (from 'azchaos up') instead of starting one")
    group.addoption("--azchaos-report", dest="azchaos_report", metavar="DIR", default="azchaos-report",
                    help="where to write the HTML/JSON report (default: azchaos-report)")
    group.addoption("--azchaos-slo", dest="azchaos_slo", metavar="NAME=LIMIT", action="append", default=[],
                    help="an SLO for every test with traffic, e.g. failed_requests=0, p99=500ms, "
                         "failed_requests[read]=0, p99[write]=3s; a test's slo marker overrides it (repeatable)")
    parser.addini("azchaos_env", "default environment file or bundled name", default="default")
    parser.addini("azchaos_slo", "SLOs for every test with traffic, one NAME=LIMIT per line", type="linelist")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slo(**limits): SLOs checked when the test ends, e.g. slo(failed_requests=0)"
    )
    config.addinivalue_line(
        "markers", "azchaos_env(name_or_file): run the test's azchaos experiment on a stack of that environment "
                   "(a bundled name, or a file relative to the test's folder), not the session's"
    )
    if config.getoption("azchaos_reuse") and getattr(config.option, "dist", "no") != "no":
        raise pytest.UsageError("--azchaos-reuse with pytest-xdist workers (-n): every worker would inject its "
                                "faults into that one stack at once; run without -n, or let each worker start its own")
    config.stash[_STATE] = _SessionState(config)
    env = config.getoption("azchaos_env")
    if env:  # a bad environment file is a usage error, before any test runs
        try:
            load(environment_file(env))
        except AzChaosError as exc:
            raise pytest.UsageError(f"--azchaos-env: {exc}") from None
    try:
        config.stash[_SLOS] = _configured_slos(config)
    except ConfigError as exc:
        raise pytest.UsageError(f"--azchaos-slo / azchaos_slo: {exc}") from None
    registry = default_registry()
    config.hook.pytest_azchaos_add_fault_types(registry=registry)
    config.stash[_REGISTRY] = registry
    config.pluginmanager.register(Reporter(config), "azchaos-reporter")
    if getattr(config.option, "allure_report_dir", None):  # --alluredir: Allure steps; nothing otherwise
        from .allure_report import AllureSteps
        config.pluginmanager.register(AllureSteps(config), "azchaos-allure")
    if threading.current_thread() is threading.main_thread():
        _stop_on_sigterm()


_SLOS = pytest.StashKey[dict[str, Any]]()
_REGISTRY = pytest.StashKey[FaultRegistry]()
_SLO_ARG = re.compile(r"^\s*([a-z_0-9]+)(?:\[([^\]]+)\])?\s*=\s*(.*?)\s*$")


def _configured_slos(config: pytest.Config) -> dict[str, Any]:
    """SLOs from the ini file, then the command line (later wins), validated now."""
    slos: dict[str, Any] = {}
    for text in [*config.getini("azchaos_slo"), *config.getoption("azchaos_slo")]:
        match = _SLO_ARG.match(text)
        if not match:
            raise ConfigError(f"expected NAME=LIMIT like failed_requests=0 or p99=500ms, found {text!r}")
        name, kind, value = match.groups()
        limit = yaml.safe_load(value) if value else None
        if kind:
            per_kind = slos.get(name)
            slos[name] = {**(per_kind if isinstance(per_kind, dict) else {}), kind: limit}
        else:
            slos[name] = limit
    checks.parse(slos)
    return slos


def _stop_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so that faults are healed and the stack removed."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, interrupt)


@pytest.hookimpl(trylast=True)
def pytest_azchaos_make_stack(config: pytest.Config, env_path: str) -> Stack:
    state = config.stash[_STATE]
    return Stack(load(env_path), images_mode=config.getoption("azchaos_images"), progress=state.session.progress)


@pytest.hookimpl(trylast=True)
def pytest_azchaos_read_back(stack: Stack, keys: list[str]) -> dict[str, str | None] | None:
    return readback.read_back(stack, keys)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check every slo marker now, before any stack starts or traffic runs."""
    bad = []
    for item in items:
        for marker in item.iter_markers("slo"):
            try:
                checks.parse(marker.kwargs)
            except ConfigError as exc:
                path, line, _ = item.location
                bad.append(f"{path}:{(line or 0) + 1}: {item.name}: slo marker: {exc}")
    if bad:
        raise pytest.UsageError("\n".join(dict.fromkeys(bad)))


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[_STATE].plan(session.items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    """After a test, remove the stacks that no later test needs. After its whole protocol, not in its
    teardown: a rerun plugin (pytest-rerunfailures) runs setup, call and teardown again within it, and
    the rerun must find the stack it failed on, as the session-scoped ``azchaos_stack`` still holds it.

    A test during which the Docker engine stopped answering stops the run, if the engine still does
    not answer: every test left would wait out the engine's timeout, call after call."""
    unanswered, _ = unanswered_calls()
    outcome = yield  # Ctrl-C or pytest.exit raise here: the session's end removes every stack
    if _stopped_for_silent_engine(item, unanswered):
        return outcome  # the session's end tries to remove the stacks, once
    try:
        item.config.stash[_STATE].release_after(item)
    except AzChaosError as exc:  # the test's phases are reported: this is one more teardown error of it
        error = pytest.TestReport(item.nodeid, item.location, {}, "failed",
                                  f"azchaos: no later test needs it, but {exc}", "teardown")
        setattr(error, AFTER_PROTOCOL, True)  # the report's verdict of the test fails too
        item.ihook.pytest_runtest_logreport(report=error)
    return outcome


def _stopped_for_silent_engine(item: pytest.Item, unanswered_before: int) -> bool:
    """Stop the session if an engine call went unanswered during ``item`` and the engine is still silent."""
    unanswered, last = unanswered_calls()
    if unanswered == unanswered_before:
        return False
    silence = engine_silence()
    if silence is None:  # it answers again (a slow moment): the run goes on
        return False
    item.session.shouldstop = (
        f"azchaos: the Docker engine stopped answering during {item.nodeid} ({last}) and still does not "
        f"list containers and networks ({silence}); each test left would wait for it, so the run stops "
        f"here; {ENGINE_HINT}")
    return True


#: the key of a stack a pytest-xdist worker could not remove, in its ``workeroutput``
WORKER_STACK_PROBLEM = "azchaos_stack_problem"
_WORKER_PROBLEMS = pytest.StashKey[list[str]]()


@pytest.hookimpl(trylast=True)  # after the reports have taken what they need of the stacks
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Session end, Ctrl-C or a crash of a test: whatever happened, remove the stacks. One that could not
    go is an error of the run (exit 1 if it had passed), said in one line before pytest's summary.

    A pytest-xdist worker's exit status is lost (the controller's is the run's), and it removes at its
    end a stack whose last test another worker ran: it hands what went wrong to the controller, which
    fails the run and says it in its summary (:func:`pytest_testnodedown`)."""
    config = session.config
    worker_output = getattr(config, "workeroutput", None)
    problem = _stop_stacks(config, say=worker_output is None)
    if problem is not None and worker_output is not None:
        worker_output[WORKER_STACK_PROBLEM] = problem
    problems = [problem] if problem is not None else config.stash.get(_WORKER_PROBLEMS, [])
    if problems and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist's controller: a worker ended; keep the stack it could not remove, for the run's
    exit status and its summary."""
    problem = getattr(node, "workeroutput", {}).get(WORKER_STACK_PROBLEM)
    if problem:
        worker = getattr(node, "workerinput", {}).get("workerid") or getattr(node.gateway, "id", "?")
        node.config.stash.setdefault(_WORKER_PROBLEMS, []).append(f"worker {worker}: {problem}")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The stacks xdist workers could not remove, one line each (said here, not as the worker ended:
    that would land in the middle of the line of progress dots)."""
    for problem in config.stash.get(_WORKER_PROBLEMS, []):
        terminalreporter.write_line(f"azchaos: ERROR: {problem}")


def pytest_unconfigure(config: pytest.Config) -> None:
    _stop_stacks(config)  # nothing is left to stop, unless the session ended before its end (sessionfinish)


def _stop_stacks(config: pytest.Config, *, say: bool = True) -> str | None:
    """Remove every stack still up; return what went wrong (said here unless not ``say``), or None."""
    state = config.stash.get(_STATE, None)
    if state is None:
        return None
    try:
        state.stop()
    except AzChaosError as exc:
        if say:
            state.session.progress(f"ERROR: {exc}")
        return str(exc)
    return None


@pytest.fixture(scope="session")
def azchaos_stack(request: pytest.FixtureRequest) -> Stack:
    """The session's running stack (started on first use, removed after the last test that needs it)."""
    try:
        return request.config.stash[_STATE].stack()
    except AzChaosError as exc:
        problem = f"azchaos: the stack could not start: {exc}"
    pytest.fail(problem, pytrace=False)  # outside the handler: one error, no "during handling of ..."


def _marked_environment(item: pytest.Item) -> str | None:
    """Return the environment file a test's ``azchaos_env`` marker names, resolved (None: no marker).

    A relative path is relative to the test's folder; raise ConfigError for anything else than one
    bundled name or an environment file that loads.
    """
    marker = item.get_closest_marker("azchaos_env")
    if marker is None:
        return None
    args = ", ".join([*map(repr, marker.args), *(f"{k}={v!r}" for k, v in marker.kwargs.items())])
    if len(marker.args) != 1 or marker.kwargs or not isinstance(marker.args[0], (str, os.PathLike)) \
            or not os.fspath(marker.args[0]).strip():
        raise ConfigError(f"expected one environment, the name of a bundled one ({', '.join(bundled_environments())})"
                          f" or an environment file, e.g. azchaos_env('minimal'); found azchaos_env({args})")
    path = environment_file(os.fspath(marker.args[0]))
    path = path if path.is_absolute() else Path(item.path).parent / path
    load(path)  # a missing or bad file is one error now, before any stack starts
    return str(path.resolve())


def _stack_of(request: pytest.FixtureRequest) -> Stack:
    """The stack a test runs on: its ``azchaos_env`` marker's environment's, else the session's."""
    try:
        env_path = _marked_environment(request.node)
    except ConfigError as exc:
        problem = f"azchaos_env marker: {exc}"  # failed outside the handler: no "during handling of ..."
    else:
        if env_path is None:
            stack: Stack = request.getfixturevalue("azchaos_stack")
            return stack
        try:
            return request.config.stash[_STATE].stack(env_path)
        except AzChaosError as exc:
            problem = f"azchaos: the stack of {env_path} could not start: {exc}"
    pytest.fail(problem, pytrace=False)


@pytest.fixture
def azchaos(request: pytest.FixtureRequest) -> Iterator[Experiment]:
    """A chaos experiment on the session's stack (or, with the ``azchaos_env`` marker, on a stack of that
    environment): faults, traffic and SLO checks."""
    azchaos_stack = _stack_of(request)
    hook = request.config.hook

    def observe(kind: str, fault: Fault, event: Event) -> None:
        notify: Callable[..., Any] = (
            hook.pytest_azchaos_fault_injected if kind == "inject" else hook.pytest_azchaos_fault_healed
        )
        notify(fault=fault, event=event)

    def read_back(stack: Stack, keys: list[str]) -> checks.Readback | None:
        found: checks.Readback | None = hook.pytest_azchaos_read_back(stack=stack, keys=keys)
        return found

    experiment = Experiment(azchaos_stack, observer=observe, read_back=read_back,
                            registry=request.config.stash[_REGISTRY])
    request.node.stash[_EXPERIMENT] = experiment
    yield experiment
    errors = experiment.finish()
    if errors:
        pytest.fail("could not restore the stack after the test: " + "; ".join(errors), pytrace=False)


_EXPERIMENT = pytest.StashKey[Experiment]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After the test body: stop traffic, heal faults, then check the declared SLOs.

    A body that failed by itself (its own ``assert``, ``pytest.fail``, an error) still has its
    traffic, faults and SLO verdicts in the reports, for that is the test people open them for;
    its own error is what pytest reports. Ctrl-C and a skip only heal."""
    try:
        result = yield
    except BaseException as exc:
        experiment = item.stash.get(_EXPERIMENT, None)
        if experiment is not None:
            experiment.finish()
            if isinstance(exc, (Exception, pytest.fail.Exception)):
                item.config.hook.pytest_azchaos_experiment_finished(item=item, experiment=experiment)
                if not isinstance(exc, NotSteady):  # a stack not steady proves nothing either way
                    with suppress(AzChaosError):  # the body's own error stands
                        _evaluate_slos(item, experiment)
        raise
    experiment = item.stash.get(_EXPERIMENT, None)
    heal_errors = experiment.finish() if experiment is not None else []
    if experiment is not None:
        item.config.hook.pytest_azchaos_experiment_finished(item=item, experiment=experiment)
        _check_slos(item, experiment)
    if heal_errors:
        pytest.fail("could not restore the stack after the test: " + "; ".join(heal_errors), pytrace=False)
    return result


def _check_slos(item: pytest.Item, experiment: Experiment) -> None:
    try:
        results = _evaluate_slos(item, experiment)
    except AzChaosError as exc:
        pytest.fail(f"SLO: {exc}", pytrace=False)
    broken = [r for r in results if not r.passed]
    if broken:
        pytest.fail("SLO broken:\n  " + "\n  ".join(r.message for r in broken), pytrace=False)


def _evaluate_slos(item: pytest.Item, experiment: Experiment) -> list[SLOResult]:
    """The declared SLOs' verdicts over the test's history, given to the reports; [] if none."""
    marker = item.get_closest_marker("slo")
    declared: dict[str, Any] = dict(marker.kwargs) if marker else {}
    configured: dict[str, Any] = item.config.stash.get(_SLOS, {})
    defaults = {**experiment.stack.topology.slo, **configured} if len(experiment.history) else {}
    # A limit of None switches an SLO off for this test (e.g. a default of the environment).
    slos = {name: limit for name, limit in {**defaults, **declared}.items() if limit is not None}
    if not slos:
        return []
    results = experiment.evaluate(slos)
    item.config.hook.pytest_azchaos_slo_evaluated(item=item, results=results)
    return results
