"""report.json's data and schema, report.html, JUnit properties, and write_report's folder."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_azchaos import report_data, report_schema
from pytest_azchaos.checks import SLOResult
from pytest_azchaos.history import FAILED, OK, UNKNOWN, History, Operation
from pytest_azchaos.report import junit_properties, render_html, write_report
from pytest_azchaos.report_files import chart_file_name, write_run
from pytest_azchaos.timeline import Event, Timeline


def op(t: float, outcome: str = OK, *, kind: str = "read", error: str | None = None, status: int | None = 200
       ) -> Operation:
    return Operation(kind, t, t, t + 0.02, outcome, status=status, error=error)


def recording() -> tuple[History, Timeline]:
    timeline = Timeline()
    timeline._events = [Event(101.0, 5001.0, "inject", "outage(a, power)"),
                        Event(102.5, 5002.5, "failover", "db", "leader db-a-1 -> db-b-1"),
                        Event(104.0, 5004.0, "heal", "outage(a, power)")]
    ops = [op(100.0), op(100.5, kind="write")]
    ops += [op(101.0 + i / 10, FAILED, error="HTTP 502", status=502) for i in range(5)]
    ops += [op(101.2, FAILED, error="ConnectionRefusedError", status=None),
            op(101.3, UNKNOWN, error="ReadTimeout", status=None), op(101.4, FAILED, error="HTTP 503", status=503),
            op(101.5, FAILED, error="HTTP 500", status=500)]
    ops += [op(102.0, FAILED, kind="write", error="HTTP 502", status=502), op(105.0)]
    return History(ops), timeline


BROKEN = SLOResult("failed_requests", 11, 0, False, "failed_requests = 11 > 0 (of 13 requests): ...")
NEVER = SLOResult("failover_time", math.inf, 120, False, "failover_time = never", "s")
UNMEASURED = SLOResult("p99", math.nan, 0.5, True, "no answered requests were recorded", "s")


def entry(verdict: str = "slo_broken", test: str = "t.py::test_outage", **kw: Any) -> dict[str, Any]:
    history, timeline = recording()
    return report_data.test_entry(test, verdict=verdict, history=history, timeline=timeline,
                                  results=kw.pop("results", [BROKEN, NEVER, UNMEASURED]), **kw)


def test_a_limit_the_value_must_reach_is_shown_as_such_in_the_tables_and_in_allure() -> None:
    from pytest_azchaos.allure_report import verdict_text
    from pytest_azchaos.checks import availability

    history, timeline = recording()
    reached = availability(history, timeline, 0.1)  # 3 of 13 succeeded: 23.08% >= 10%
    slowed = SLOResult("p50[write]", 0.224, 0.2, True, "p50[write] = 224 ms >= 200 ms", "s", at_least=True)
    short = replace(slowed, value=0.15, passed=False)
    within = SLOResult("p99", 0.12, 0.5, True, "p99 = 120 ms <= 500 ms", "s")
    found = entry(results=[reached, slowed, short, within])["slos"]
    assert [s["shown_limit"] for s in found] == [">=10.00%", ">=200ms", ">=200ms", "500ms"]
    assert [verdict_text(r) for r in (reached, slowed, short, within)] == [
        "PASS 23.08% >= 10.00%", "PASS 224ms >= 200ms", "FAIL 150ms < 200ms", "PASS 120ms <= 500ms"]


def test_an_entry_has_json_safe_slos_faults_events_timings_and_the_commonest_errors() -> None:
    found = entry()
    broken, never, unmeasured = found["slos"]
    assert broken["verdict"] == "fail" and broken["shown"] == "11" and broken["value"] == 11
    assert (never["value"], never["shown"], never["limit"], never["shown_limit"]) == (None, "never", 120, "120.0s")
    assert (unmeasured["value"], unmeasured["shown"], unmeasured["verdict"]) == (None, "n/a", "pass")
    assert found["faults"] == [{"subject": "outage(a, power)", "start": 0, "end": 3.0, "start_wall": 5001.0,
                                "end_wall": 5004.0}]
    assert [(e["t"], e["kind"]) for e in found["events"]] == [(0, "inject"), (1.5, "failover"), (3.0, "heal")]
    timings = found["timings"]
    assert (timings["requests"], timings["failed"], timings["first_error"], timings["last_error"]) == (13, 10, 0, 1.0)
    assert (timings["first_failover"], timings["last_heal"], timings["traffic_start"]) == (1.5, 3.0, -1.0)
    assert found["errors"] == [  # at most 3 per kind, commonest first
        {"kind": "read", "error": "HTTP 502", "count": 5},
        {"kind": "read", "error": "ConnectionRefusedError", "count": 1},
        {"kind": "read", "error": "ReadTimeout (outcome unknown)", "count": 1},
        {"kind": "write", "error": "HTTP 502", "count": 1}]
    json.dumps(found, allow_nan=False)  # NaN and infinity were written as null


def test_a_report_counts_verdicts_keeps_the_flat_lists_and_validates_against_its_schema() -> None:
    data = report_data.report([entry(), entry("passed", "t.py::test_calm", results=[]),
                               report_data.test_entry("t.py::test_unsteady", verdict="not_steady", reason="r",
                                                      reasons=["r"])],
                              events=[{"mono": 1.0, "wall": 2.0, "kind": "inject", "subject": "s", "detail": ""}])
    assert data["summary"] == {"tests": 3, "passed": 1, "slo_broken": 1, "not_steady": 1, "failed": 0}
    assert [(s["test"], s["name"]) for s in data["slos"]] == [
        ("t.py::test_outage", "failed_requests"), ("t.py::test_outage", "failover_time"), ("t.py::test_outage", "p99")]
    assert data["tests"][2]["chart"] is None
    assert report_schema.validate(json.loads(json.dumps(data))) == data


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(schema_version=2), "expected report schema version 1, found version 2"),
    (lambda d: d.pop("schema_version"), "found no schema_version (a report from before version 1)"),
    (lambda d: d["tests"][0].update(verdict="maybe"), "at $.tests[0].verdict: 'maybe' is not one of"),
    (lambda d: d["tests"][0]["slos"][0].pop("limit"), "at $.tests[0].slos[0]: 'limit' is a required property"),
    (lambda d: d["tests"][0].update(reruns=[{"test": "t.py::test_outage"}]),
     "at $.tests[0].reruns[0]: 'verdict' is a required property"),
])
def test_a_report_that_does_not_fit_the_schema_is_one_clear_error(change: Any, message: str) -> None:
    data = json.loads(json.dumps(report_data.report([entry()])))
    change(data)
    with pytest.raises(report_schema.ReportError, match="^r.json: .*") as caught:
        report_schema.validate(data, source="r.json")
    assert message in str(caught.value)


def test_the_html_puts_failures_first_and_shows_each_tests_chart_slos_events_and_errors() -> None:
    data = report_data.report([entry("passed", "t.py::test_calm", results=[]), entry(),
                               report_data.test_entry("t.py::test_<b>", verdict="not_steady", reason="no <sync>")])
    page = render_html(data)
    order = [page.index(f"data-test='{name}'") for name in ("t.py::test_outage", "t.py::test_&lt;b&gt;",
                                                           "t.py::test_calm")]
    assert order == sorted(order)  # SLO broken, then not steady, then passed
    assert page.index("<h2>Verdicts</h2>") < order[0]
    assert page.count("<svg") == 2 and "no traffic or events were recorded: no chart" in page
    assert "failed_requests = 11 &gt; 0 (of 13 requests)" in page and "<td>never</td>" in page
    assert "<td>+1.5 s</td>" in page and "leader db-a-1 -&gt; db-b-1" in page  # relative time, escaped
    assert "<td>HTTP 502</td><td>5</td>" in page
    assert "stack not steady: no &lt;sync&gt;" in page
    for external in ("<script", "<link", " src=", "@import", "url(http", "href=\"http"):  # opens offline
        assert external not in page


def test_the_html_shows_the_environment_facts() -> None:
    env = {"run_id": "r1", "environment": "minimal.yaml", "azs": ["a", "b"],
           "services": {"db": {"role": "db", "image": "postgres-patroni", "azs": ["a", "b"], "replicas_per_az": 1,
                               "options": {"synchronous": True}}},
           "images": {"db/db": "azchaos/postgres-patroni:abc"}, "roles": {"db": {"leader": "db-a-1"}}}
    page = render_html(report_data.report([], environments=[env]))
    assert "AZs: a, b" in page and "azchaos/postgres-patroni:abc" in page
    assert "{&quot;synchronous&quot;: true}" in page and "&quot;leader&quot;: &quot;db-a-1&quot;" in page
    assert page.count("<h2 id='env-r1'>Environment</h2>") == 1 and "class=ran-on" not in page


def test_the_stack_facts_read_as_tables_not_as_json() -> None:
    env = {"run_id": "r1", "environment": "default.yaml", "azs": ["a", "b"],
           "members": [{"container": "azchaos-r1-lb", "service": "lb", "role": "lb", "az": "regional",
                        "state": "running", "healthy": True}],
           "roles": {"db": {"leader": "db-a-1", "nodes": [
               {"name": "db-a-1", "az": "a", "role": "leader", "lag_bytes": None},
               {"name": "db-b-1", "az": "b", "role": "sync_standby", "lag_bytes": 0}]},
               "s3": {"drives_online": 6, "survives_az_loss": {"read": True, "write": False},
                      "endpoint": {"note": "a; b"}},
               "etcd": {"healthy": ["etcd-a-1", "etcd-b-1"]}}}
    page = render_html(report_data.report([], environments=[env]))
    facts = page.split("<table class=facts>")[1].split("</table><details>")[0]
    assert "<th>db</th>" in facts and "<td>leader</td><td>db-a-1</td>" in facts  # a mapping with rows: a table
    assert "<th>name<th>az<th>role<th>lag_bytes</tr>" in facts  # the rows' columns
    assert "<td>db-b-1</td><td>b</td><td>sync_standby</td><td>0</td>" in facts
    assert "drives online: 6; survives az loss: (read: yes, write: no); endpoint: (note: a; b)" in facts
    assert "healthy: etcd-a-1, etcd-b-1" in facts
    assert "<summary>Members at start (1)</summary>" in page and "<td>azchaos-r1-lb</td>" in page


def test_a_run_on_two_environments_shows_both_and_which_each_test_ran_on() -> None:
    envs = [{"run_id": "r1", "environment": "environments/default.yaml", "azs": ["a", "b", "c"]},
            {"run_id": "r2", "environment": "/x/db-cluster.yaml", "azs": ["a", "b"]}]
    one, two = entry(test="t.py::test_one"), entry("passed", "t.py::test_two", results=[])
    one["run_id"], two["run_id"] = "r2", "r1"
    data = report_schema.validate(json.loads(json.dumps(report_data.report([one, two], environments=envs))))
    assert data["environment"] == envs[0] and data["environments"] == envs  # the first: what older readers see
    page = render_html(data)
    assert "<h2 id='env-r1'>Environment 1: default.yaml</h2>" in page
    assert "<h2 id='env-r2'>Environment 2: db-cluster.yaml</h2>" in page and "AZs: a, b, c" in page
    sections = {s.split("'")[0]: s for s in page.split("data-test='")[1:]}
    assert "on <a href='#env-r2'>db-cluster.yaml</a> (run r2)" in sections["t.py::test_one"]
    assert "on <a href='#env-r1'>default.yaml</a> (run r1)" in sections["t.py::test_two"]


def test_a_report_written_before_environments_still_shows_its_one_environment() -> None:
    data = report_data.report([entry()], environments=[{"run_id": "r1", "environment": "minimal.yaml", "azs": ["a"]}])
    del data["environments"]
    page = render_html(report_schema.validate(data))
    assert "<h2 id='env-r1'>Environment</h2>" in page and "AZs: a" in page
    del data["environment"]
    data["environment"] = None
    assert "no stack facts were recorded" in render_html(data)


def test_junit_properties_carry_value_limit_verdict_and_the_message_of_a_failure() -> None:
    reached = SLOResult("availability", 0.999, 0.99, True, "ok", at_least=True)
    props = dict(junit_properties([BROKEN, NEVER, SLOResult("p99", 0.25, 0.5, True, "ok", "s"), reached]))
    assert props["azchaos.slo.failed_requests.value"] == "11"
    assert props["azchaos.slo.failed_requests.verdict"] == "fail"
    assert props["azchaos.slo.failed_requests.message"].startswith("failed_requests = 11 > 0")
    assert (props["azchaos.slo.failover_time.value"], props["azchaos.slo.failover_time.limit"]) == ("inf", "120")
    assert (props["azchaos.slo.p99.value"], props["azchaos.slo.p99.verdict"]) == ("0.25", "pass")
    assert "azchaos.slo.p99.message" not in props
    assert props["azchaos.slo.availability.at_least"] == "true" and "azchaos.slo.p99.at_least" not in props


def test_write_report_writes_json_html_and_each_tests_charts(tmp_path: Path) -> None:
    data = report_data.report([entry(test="t.py::test_x[a/app->db]")])
    page = write_report(data, tmp_path / "out")
    assert page == (tmp_path / "out" / "report.html").resolve() and "<svg" in page.read_text()
    assert report_schema.load(tmp_path / "out" / "report.json") == json.loads(json.dumps(data))
    name = chart_file_name("t.py::test_x[a/app->db]")
    assert name == "t.py_test_x_a_app-_db"
    assert (tmp_path / "out" / "charts" / f"{name}.svg").read_text().startswith("<svg")
    assert (tmp_path / "out" / "charts" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temporary file left


def test_runs_sharing_a_folder_keep_their_own_reports_and_the_last_is_the_latest(tmp_path: Path) -> None:
    first = report_data.report([entry(test="t.py::test_one")], title="first")
    second = report_data.report([entry("passed", "t.py::test_two", results=[])], title="second")
    write_run(first, tmp_path, run="20261123-100000-1")
    page = write_run(second, tmp_path, run="20261123-100001-2")
    assert page == (tmp_path / "report.html").resolve() and "t.py::test_two" in page.read_text()
    assert report_schema.load(tmp_path / "report.json")["title"] == "second"
    assert (tmp_path / "latest").resolve() == (tmp_path / "runs" / "20261123-100001-2").resolve()
    assert [t["test"] for t in report_schema.load(tmp_path / "runs" / "20261123-100000-1" / "report.json")["tests"]
            ] == ["t.py::test_one"]  # not overwritten by the second run
    index = (tmp_path / "index.html").read_text()
    assert index.index("runs/20261123-100001-2/report.html") < index.index("runs/20261123-100000-1/report.html")
    assert "1 slo broken" in index and "1 passed" in index


def test_a_run_stopped_before_its_last_test_says_so_in_each_file(tmp_path: Path) -> None:
    data = report_data.report([entry(test="t.py::test_one")], stopped="stopping after 1 failures", not_run=3)
    page = write_run(data, tmp_path, run="20261207-100000-1").read_text()
    assert report_schema.load(tmp_path / "report.json")["stopped"] == "stopping after 1 failures"
    assert ("<p class=stopped><b>The run stopped before its last test:</b> stopping after 1 failures. "
            "3 selected test(s) did not run.</p>") in page
    assert "3 not run" in (tmp_path / "index.html").read_text()
    whole = report_data.report([entry(test="t.py::test_one")])
    assert "stopped" not in whole and "not_run" not in whole["summary"]


class StubStack:
    """What environment_facts reads of a stack."""

    run_id = "r1"
    members_all: list[object] = []
    backend = object()

    def __init__(self, status: dict[str, Any] | Exception) -> None:
        db = SimpleNamespace(name="db", role="db", image="postgres-patroni", azs=("a", "b"), replicas_per_az=1,
                             options={"synchronous": True, "ttl": 20.0, "password": "hunter2", "token": None})
        self.topology = SimpleNamespace(path=Path("env.yaml"), azs=("a", "b"), services=(db,))
        self._status = status

    def image_names(self) -> dict[tuple[str, str], str]:
        return {("db", "db"): "postgres-patroni"}

    def status(self) -> dict[str, Any]:
        if isinstance(self._status, Exception):
            raise self._status
        return self._status


def test_environment_facts_give_the_db_configuration_without_credentials_and_the_state_at_start() -> None:
    member = {"container": "r1-db-a-1", "service": "db", "role": "db", "az": "a", "state": "running",
              "healthy": True, "extra": "not kept"}
    facts = report_data.environment_facts(StubStack({"members": [member], "roles": {"db": {"leader": "db-a-1"}},
                                                     "endpoints": {"db": "postgresql://u:pw@127.0.0.1:1/db"}}))
    assert facts["services"]["db"]["options"] == {"synchronous": True, "ttl": 20.0, "password": "***", "token": None}
    assert facts["images"] == {"db/db": "postgres-patroni"} and facts["azs"] == ["a", "b"]
    assert facts["roles"] == {"db": {"leader": "db-a-1"}} and "extra" not in facts["members"][0]
    assert "pw@" not in json.dumps(facts)  # endpoints carry the run's credentials: left out


def test_environment_facts_say_what_could_not_be_seen_instead_of_failing_the_run() -> None:
    facts = report_data.environment_facts(StubStack(RuntimeError("patroni did not answer")))
    assert facts["status_error"] == "RuntimeError: patroni did not answer" and "roles" not in facts


def test_junit_values_are_rounded_for_people_reading_ci() -> None:
    props = dict(junit_properties([SLOResult("write_downtime", 19.799999999999272, 120, True, "ok", "s")]))
    assert props["azchaos.slo.write_downtime.value"] == "19.8"


def test_the_commonest_errors_say_which_lb_targets_they_went_to() -> None:
    ops = [replace(op(t, FAILED, status=502, error="HTTP 502"), upstream="app-a-1") for t in (1.0, 2.0)]
    ops += [replace(op(3.0, FAILED, status=502, error="HTTP 502"), upstream="app-b-1 > app-c-1"),
            op(4.0, FAILED, error="ReadTimeout", status=None)]
    assert report_data.commonest_errors(ops) == [
        {"kind": "read", "error": "HTTP 502", "count": 3, "upstreams": {"app-a-1": 2, "app-b-1 > app-c-1": 1}},
        {"kind": "read", "error": "ReadTimeout", "count": 1}]
    data = report_data.report([entry()], events=[])
    data["tests"][0]["errors"] = report_data.commonest_errors(ops)
    assert report_schema.validate(json.loads(json.dumps(data))) == data


def test_a_test_run_again_counts_once_and_shows_its_earlier_attempts() -> None:
    rerun = {**entry("passed", results=[]), "reruns": [entry(), entry("failed", reason="AssertionError: no")]}
    data = report_schema.validate(json.loads(json.dumps(report_data.report([rerun, entry("passed", "t.py::b")]))))
    assert {k: v for k, v in data["summary"].items() if v} == {"tests": 2, "passed": 2, "reruns": 2}
    assert [s["test"] for s in data["slos"]] == ["t.py::b"] * 3  # the tests' own SLOs, not the earlier attempts'
    page = render_html(data)
    assert "(attempt 3; earlier attempts 1: SLO BROKEN, 2: FAILED)" in page
    assert "2 passed; 2 earlier attempt(s) of tests run again." in page
    first, second = page.split("<details class=rerun>")[1:]
    assert first.startswith("<summary>attempt 1 of 3: <span class='verdict v-slo_broken'>SLO BROKEN</span> "
                            "failed_requests = 11 &gt; 0")
    assert "<div class=chart><svg" in first and "<table class=slos>" in first and "outage(a, power)" in first
    assert second.startswith("<summary>attempt 2 of 3: <span class='verdict v-failed'>FAILED</span> AssertionError: no")
    assert "reruns" not in render_html(report_data.report([entry("passed", results=[])]))
