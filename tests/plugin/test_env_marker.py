"""The ``azchaos_env`` marker through the plugin (pytester, on the stand-in stack of conftest.py): a test
runs on a stack of the environment it names, one stack per environment, started by the first test that
needs it, shared by the others, and removed at session end with the session's own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "environments" / "minimal.yaml"

# Each test prints the stack it ran on: its environment and the object's identity.
SHOW = """
import pytest


def show(azchaos):
    print(f"\\nRAN {azchaos.stack.topology.name} {id(azchaos.stack)}")
"""


# Four tests on three environments, the session's (minimal) first, localstack twice.
ALTERNATING = """
def test_session(azchaos):
    show(azchaos)


@pytest.mark.azchaos_env("localstack")
def test_localstack(azchaos):
    show(azchaos)


@pytest.mark.azchaos_env("default")
def test_default(azchaos):
    show(azchaos)


@pytest.mark.azchaos_env("localstack")
def test_localstack_again(azchaos):
    show(azchaos)
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", f"--azchaos-env={MINIMAL}", *args)


def ran(result: pytest.RunResult) -> list[tuple[str, str]]:
    """(environment, stack identity) of each test, in the order they ran."""
    return re.findall(r"^RAN (\S+) (\d+)$", result.stdout.str(), flags=re.MULTILINE)


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.azchaos_env(name_or_file): run the test's azchaos experiment on a "
                                 "stack of that environment *"])


def test_one_stack_per_environment_shared_by_its_tests(fake: pytest.Pytester) -> None:
    fake.makepyfile(SHOW + ALTERNATING + """

@pytest.mark.azchaos_env("minimal")  # the session's environment: the session's stack
def test_minimal_by_name(azchaos):
    show(azchaos)


def test_session_again(azchaos):
    show(azchaos)
""")
    result = run(fake)
    result.assert_outcomes(passed=6)
    envs = ran(result)
    assert [env for env, _ in envs] == ["minimal", "localstack", "default", "localstack", "minimal", "minimal"]
    session, localstack, default, localstack_again, minimal_by_name, session_again = (i for _, i in envs)
    assert len({session, localstack, default}) == 3
    assert localstack_again == localstack and minimal_by_name == session_again == session
    out = result.stdout.str()
    # each started by the first test that needs it, none before, and all removed at the end
    assert re.findall(r"FAKE STACK UP|RAN \w+", out) == [
        "FAKE STACK UP", "RAN minimal", "FAKE STACK UP", "RAN localstack", "FAKE STACK UP", "RAN default",
        "RAN localstack", "RAN minimal", "RAN minimal"]
    assert out.count("FAKE STACK DOWN") == 3


def test_each_stack_is_removed_right_after_the_last_test_that_needs_it(fake: pytest.Pytester) -> None:
    fake.makepyfile(SHOW + ALTERNATING + """

def test_the_session_stack_itself(azchaos_stack):
    print(f"\\nRAN {azchaos_stack.topology.name} {id(azchaos_stack)}")


@pytest.mark.azchaos_env("default")
def test_default_deselected(azchaos):
    show(azchaos)


def test_no_stack():
    print("\\nRAN nothing 0")
""")
    result = run(fake, "--deselect", "test_each_stack_is_removed_right_after_the_last_test_that_needs_it.py::"
                                     "test_default_deselected")
    result.assert_outcomes(passed=6, deselected=1)
    out = result.stdout.str()
    # default goes after its last test (the deselected one does not count), localstack after its
    # second, the session's after the test that uses its fixture: none is left for the session's end
    assert re.findall(r"FAKE STACK UP|stack fake-\w+ removed|RAN \w+", out) == [
        "FAKE STACK UP", "RAN minimal", "FAKE STACK UP", "RAN localstack", "FAKE STACK UP", "RAN default",
        "stack fake-default removed", "RAN localstack", "stack fake-localstack removed", "RAN minimal",
        "stack fake-minimal removed", "RAN nothing"]


def test_a_rerun_of_the_last_test_that_needs_a_stack_finds_it(fake: pytest.Pytester) -> None:
    """pytest-rerunfailures runs a failed test's setup, call and teardown again: its stack stays for it."""
    fake.makepyfile(SHOW + """
import pathlib


def fail_once(name):
    if not pathlib.Path(name).exists():
        pathlib.Path(name).touch()
        raise AssertionError("the first attempt fails")


@pytest.mark.azchaos_env("localstack")
def test_localstack(azchaos):
    show(azchaos)
    fail_once("localstack")


def test_the_session_stack_itself(azchaos_stack):
    print(f"\\nRAN {azchaos_stack.topology.name} {id(azchaos_stack)}")
    fail_once("session")
""")
    result = run(fake, "--reruns", "1")
    assert result.parseoutcomes() == {"passed": 2, "rerun": 2}, result.stdout.str()
    out = result.stdout.str()
    assert re.findall(r"FAKE STACK UP|stack fake-\w+ removed|RAN \w+", out) == [
        "FAKE STACK UP", "RAN localstack", "RAN localstack", "stack fake-localstack removed",
        "FAKE STACK UP", "RAN minimal", "RAN minimal", "stack fake-minimal removed"]
    localstack, localstack_again, session, session_again = (i for _, i in ran(result))
    assert localstack == localstack_again and session == session_again


def test_a_stack_that_cannot_be_removed_is_an_error_of_its_last_test(fake: pytest.Pytester) -> None:
    fake.makepyfile(test_stack_down=SHOW + """
from pytest_azchaos.errors import AzChaosError


@pytest.mark.azchaos_env("localstack")
def test_localstack(azchaos):
    def refuse():
        raise AzChaosError("the engine said no")

    azchaos.stack.down = refuse


def test_after(azchaos):
    show(azchaos)
""")
    result = run(fake)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_localstack*",
                                 "azchaos: no later test needs it, but stack fake-localstack was not removed: the "
                                 "engine said no. The next start of a stack on this host removes it, as does "
                                 "'azchaos down --run-id fake-localstack'"])
    assert "RAN minimal" in result.stdout.str()  # the run goes on
    verdicts = {t["test"]: t for t in json.loads((fake.path / "azchaos-report" / "report.json").read_text())["tests"]}
    assert verdicts["test_stack_down.py::test_localstack"]["verdict"] == "failed"  # as pytest says, not "passed"
    assert verdicts["test_stack_down.py::test_localstack"]["reason"] == (
        "error in teardown: azchaos: no later test needs it, but stack fake-localstack was not removed: the engine "
        "said no. The next start of a stack on this host removes it, as does 'azchaos down --run-id fake-localstack'")
    assert verdicts["test_stack_down.py::test_after"]["verdict"] == "passed"


def test_other_plugins_get_the_facts_of_every_stack_once_at_the_end(fake: pytest.Pytester) -> None:
    fake.makepyfile(SHOW + ALTERNATING + """

def test_no_stack():
    pass
""", observer="""
def pytest_azchaos_environments_used(environments):
    print("\\nUSED " + " ".join(f"{e['run_id']}/{','.join(e['azs'])}" for e in environments))
""")
    result = run(fake, "-p", "observer")
    result.assert_outcomes(passed=5)
    assert re.findall(r"^USED .*$", result.stdout.str(), flags=re.MULTILINE) == [
        "USED fake-minimal/a,b fake-localstack/a,b,c fake-default/a,b,c"]  # in the order they started
    result = run(fake, "-p", "observer", "-k", "test_no_stack")
    result.assert_outcomes(passed=1, deselected=4)
    assert "USED" not in result.stdout.str()  # no stack, no call


def test_a_file_relative_to_the_test_is_one_environment_with_its_name(fake: pytest.Pytester) -> None:
    (fake.path / "tests" / "envs").mkdir(parents=True)  # beside the test, not where pytest runs
    (fake.path / "tests" / "envs" / "region.yaml").write_text(
        MINIMAL.read_text().replace("name: minimal", "name: region"))
    (fake.path / "tests" / "test_by_path.py").write_text(SHOW + """
@pytest.mark.azchaos_env("envs/region.yaml")
def test_by_path(azchaos):
    show(azchaos)


@pytest.mark.azchaos_env("envs/../envs/region.yaml")
def test_same_file(azchaos):
    show(azchaos)
""")
    result = run(fake)
    result.assert_outcomes(passed=2)
    (env, first), (_, second) = ran(result)
    assert (env, first) == ("region", second)
    assert result.stdout.str().count("FAKE STACK UP") == 1


@pytest.mark.parametrize(("args", "error"), [
    ("", "azchaos_env marker: expected one environment, the name of a bundled one (custom-app, default, "
         "localstack, minimal) or an environment file, e.g. azchaos_env('minimal'); found azchaos_env()"),
    ("42", "azchaos_env marker: expected one environment, * found azchaos_env(42)"),
    ("'minimal', 'default'", "azchaos_env marker: expected one environment, * found azchaos_env('minimal', "
                             "'default')"),
    ("'nope'", "azchaos_env marker: no bundled environment 'nope': choose one of ['custom-app', 'default', "
               "'localstack', 'minimal'], or give the path of an environment file (e.g. ./region.yaml)"),
    ("'missing.yaml'", "azchaos_env marker: */missing.yaml: environment file not found"),
])
def test_bad_input_fails_that_test_at_setup(fake: pytest.Pytester, args: str, error: str) -> None:
    fake.makepyfile(SHOW + f"""
@pytest.mark.azchaos_env({args})
def test_bad(azchaos):
    show(azchaos)


def test_good(azchaos):
    show(azchaos)
""")
    result = run(fake)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_bad*", error.replace('[', '[[]')])
    assert "Traceback" not in result.stdout.str() and "During handling" not in result.stdout.str()
    assert ran(result) == [("minimal", ran(result)[0][1])]  # only the good test ran, on the session's stack


def test_an_interrupted_session_removes_every_stack(fake: pytest.Pytester) -> None:
    fake.makepyfile(SHOW + """
def test_session(azchaos):
    show(azchaos)


@pytest.mark.azchaos_env("default")
def test_interrupted(azchaos):
    show(azchaos)
    raise KeyboardInterrupt
""")
    result = run(fake)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert result.stdout.str().count("FAKE STACK UP") == 2
    assert result.stdout.str().count("FAKE STACK DOWN") == 2


def test_keep_leaves_every_stack(fake: pytest.Pytester) -> None:
    fake.makepyfile(SHOW + """
def test_session(azchaos):
    show(azchaos)


@pytest.mark.azchaos_env("default")
def test_default(azchaos):
    show(azchaos)
""")
    result = run(fake, "--azchaos-keep")
    result.assert_outcomes(passed=2)
    assert "FAKE STACK DOWN" not in result.stdout.str()
    out = result.stdout.str()
    assert "stack fake-minimal left running" in out and "stack fake-default left running" in out
