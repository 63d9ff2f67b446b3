"""Game-day scenarios: parsing, and bad input that fails with file, line and what is allowed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_azchaos import load
from pytest_azchaos.faults import AzOutage, InstanceFault, LinkToxic
from pytest_azchaos.gameday_scenario import ScenarioError, check_against, load_scenario
from pytest_azchaos.resources import environment_file
from pytest_azchaos.stack import Stack

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "gamedays").glob("*.yaml"))


class NoBackend:
    """Checking a scenario against a stack never touches its backend."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the backend was used: {name}")


def planned(env: str = "default") -> Stack:
    return Stack(load(environment_file(env)), run_id="plan", backend=NoBackend())  # type: ignore[arg-type]


def scenario_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_five_shipped_scenarios_load_and_fit_the_default_region() -> None:
    names = {p.stem for p in EXAMPLES}
    assert names == {"az-power-loss", "frozen-az", "primary-az-partition", "inter-az-latency",
                     "dropped-db-connections"}
    for path in EXAMPLES:
        scenario = load_scenario(path)
        check_against(scenario, planned(scenario.environment))
        assert any(step.fault is not None for step in scenario.steps), path
        assert any(step.kind == "expect" for step in scenario.steps), path


def test_steps_are_parsed_with_their_lines_units_and_faults(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, """\
        name: demo
        steps:
          - traffic: {rate: 50/s, for: 1m, workload: example-app}
          - wait: 500ms
          - mark: fault
          - outage: {az: a, mode: freeze, for: 10s}
          - toxic: {link: b/app->db, type: latency, latency: 200ms, jitter: 20, id: slow, steady: false}
          - instance: {action: pause, target: db-primary}
          - heal: slow
          - heal: all
          - expect: {p99: 2s, failed_requests: {read: 0}, since: fault}
        """)
    scenario = load_scenario(path)
    traffic, wait, mark, outage, toxic, instance, heal_one, heal_all, expect = scenario.steps
    assert (traffic.rate_per_s, traffic.duration_s, traffic.workload, traffic.line) == (50, 60, "example-app", 3)
    assert wait.duration_s == 0.5
    assert mark.name == "fault"
    assert outage.fault == AzOutage("a", mode="freeze") and outage.duration_s == 10 and outage.line == 6
    assert toxic.fault == LinkToxic("b/app->db", "latency", (("jitter", 20), ("latency", 200)))
    assert (toxic.name, toxic.steady, toxic.duration_s) == ("slow", False, None)
    assert instance.fault == InstanceFault("db-primary", "pause")
    assert (heal_one.name, heal_all.name) == ("slow", None)
    assert expect.slos == {"p99": "2s", "failed_requests": {"read": 0}} and expect.name == "fault"
    assert scenario.environment == "default"
    check_against(scenario, planned())


@pytest.mark.parametrize(("steps", "line", "expected"), [
    ("- reboot: {az: a}", 3, "unknown step 'reboot': expected one of traffic, outage, toxic, instance, wait, heal"),
    ("- wait: 10x", 3, "step wait: wait: expected a duration like '10s', '500ms' or '2m', found '10x'"),
    ("- outage: {az: a, for: 3 weeks}", 3, "expected a duration like"),
    ("- outage: {az: a, mode: flood}", 3, "unknown mode 'flood': expected one of power, freeze, network"),
    ("- toxic: {link: a/app->db, type: lag}", 3, "unknown toxic type 'lag': expected one of latency, timeout"),
    ("- toxic: {link: a/app->db, type: latency, rate: 5}", 3,
     "unknown key 'rate': expected link, type, latency, jitter, toxicity"),
    ("- instance: {action: explode, target: etcd}", 3, "unknown action 'explode': expected one of kill, stop"),
    ("- traffic: {rate: fast}", 3, "rate: expected requests per second like 50 or '50/s'"),
    ("- traffic: {rate: 5, workload: mine}", 3, "unknown workload 'mine': expected one of read, example-app"),
    ("- expect: {p98: 1s}", 3, "unknown SLO 'p98': expected one of failed_requests, failed_ratio, p50"),
    ("- expect: {p99: soon}", 3, "SLO p99: expected a duration like"),
    ("- wait: 1s\n  - heal: ghost", 4, "heal 'ghost': no fault step before it has 'id: ghost'"),
    ("- expect: {p99: 1s, since: later}\n  - mark: later", 3, "expect since 'later': no '- mark: later' step"),
    ("- {wait: 1s, heal: all}", 3, "a step is a mapping with one key"),
])
def test_bad_steps_name_the_file_the_line_and_what_is_allowed(tmp_path: Path, steps: str, line: int,
                                                              expected: str) -> None:
    path = scenario_file(tmp_path, f"name: bad\nsteps:\n  {steps}\n")
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    assert str(raised.value).startswith(f"{path}:{line}: "), raised.value
    assert expected in str(raised.value)


@pytest.mark.parametrize(("step", "expected"), [
    ("outage: {az: d}", "unknown AZ 'd'"),
    ("toxic: {link: a/app->queue, type: latency, latency: 5}",
     "unknown link 'a/app->queue': expected one of a/app->db"),
    ("instance: {target: app-z-9}", "unknown target 'app-z-9': expected one of"),
])
def test_faults_that_do_not_fit_the_stack_fail_before_anything_runs(tmp_path: Path, step: str,
                                                                    expected: str) -> None:
    path = scenario_file(tmp_path, f"name: bad\nsteps:\n  - wait: 1s\n  - {step}\n")
    scenario = load_scenario(path)  # well formed...
    with pytest.raises(ScenarioError) as raised:
        check_against(scenario, planned())  # ...but not for this region; the backend is never asked
    assert str(raised.value).startswith(f"{path}:4: step "), raised.value
    assert expected in str(raised.value)


def test_db_primary_is_no_target_in_a_region_without_a_database(tmp_path: Path) -> None:
    scenario = load_scenario(scenario_file(tmp_path, "steps:\n  - instance: {target: db-primary}\n"))
    check_against(scenario, planned())
    with pytest.raises(ScenarioError, match="unknown target 'db-primary'"):
        check_against(scenario, planned("minimal"))


@pytest.mark.parametrize(("text", "expected"), [
    ("steps: []\n", ":1: 'steps' must be a non-empty list of steps"),
    ("name: x\nstep:\n  - wait: 1s\n", ":2: unknown key 'step' in a scenario: expected name, description"),
    ("steps:\n  - wait: [1s\n", ": not valid YAML"),
    ("- wait: 1s\n", ":1: expected a mapping with name, description, environment, steps"),
])
def test_a_malformed_file_says_where(tmp_path: Path, text: str, expected: str) -> None:
    path = scenario_file(tmp_path, text)
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    assert str(raised.value).startswith(str(path)) and expected in str(raised.value), raised.value


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read the scenario"):
        load_scenario(tmp_path / "nope.yaml")
