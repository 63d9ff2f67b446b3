"""The steady-state check before a fault: what it finds, how long it waits, how it fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_azchaos import steady
from pytest_azchaos.errors import NotSteady
from pytest_azchaos.faults import Nemesis
from pytest_azchaos.stack import Stack
from pytest_azchaos.stack.roles import ROLES
from pytest_azchaos.stack.roles import app as app_role
from pytest_azchaos.timeline import Timeline
from pytest_azchaos.topology import load

ROOT = Path(__file__).resolve().parents[2]


class FakeBackend:
    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def state(self, name: str) -> str:
        return self.states.get(name, "running")

    def published_port(self, name: str, port: int) -> int:
        return 1


SYNC = {"db-a-1": {"role": "leader", "state": "running"}, "db-b-1": {"role": "sync_standby", "state": "running"}}
ASYNC = {"db-a-1": {"role": "leader", "state": "running"}, "db-b-1": {"role": "replica", "state": "stopped"}}


@pytest.fixture
def region(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A default region whose facts the test sets: nodes (Patroni), streaming standbys, drives."""
    facts: dict[str, Any] = {"nodes": SYNC, "streaming": {"db-b-1"}, "drives": (6, 6), "healthy": True}

    def view(stack: Stack, service: str) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
        nodes = facts["nodes"]
        leader = next((n for n, v in nodes.items() if v["role"] == "leader"), None)
        return leader, nodes, {n: {"state": "streaming"} for n in facts["streaming"]}

    monkeypatch.setattr(ROLES["db"], "view", view, raising=False)
    monkeypatch.setattr(ROLES["s3"], "drives", lambda stack, members: facts["drives"], raising=False)
    monkeypatch.setattr(app_role, "http_ok", lambda url, timeout_s=1: facts["healthy"])
    facts["stack"] = Stack(load(ROOT / "environments" / "default.yaml"), run_id="t", backend=FakeBackend())  # type: ignore[arg-type]
    return facts


def test_a_steady_region_has_no_reason(region: dict[str, Any]) -> None:
    assert steady.not_steady(region["stack"]) == []


def test_no_synchronous_standby_is_named_with_what_the_standbys_do(region: dict[str, Any]) -> None:
    region["nodes"], region["streaming"] = ASYNC, set()
    region["stack"].backend.states["azchaos-t-db-b-1"] = "exited"
    assert steady.not_steady(region["stack"]) == [
        "db-b-1 is exited", "db: no synchronous standby (standbys: db-b-1 stopped/replica)"]


def test_recorded_but_not_streaming_sync_standby_is_not_steady(region: dict[str, Any]) -> None:
    region["streaming"] = set()
    assert steady.not_steady(region["stack"]) == ["db: no synchronous standby (db-b-1 recorded but not streaming)"]


def test_drives_targets_and_active_faults_are_reasons(region: dict[str, Any]) -> None:
    region["drives"], region["healthy"] = (4, 6), False
    reasons = steady.not_steady(region["stack"], ["outage(a, power)"])
    assert reasons[0] == "fault outage(a, power) is still active"
    assert "target app-a-1 unhealthy" in reasons
    assert "s3: 4/6 drives online" in reasons


def test_nemesis_waits_then_fails_with_stack_not_steady_and_injects_nothing(region: dict[str, Any]) -> None:
    region["nodes"], region["streaming"] = ASYNC, set()
    calls: list[str] = []

    class Fault:
        subject = "outage(a, power)"

        def validate(self, stack: Any) -> None: ...

        def inject(self, stack: Any) -> None:
            calls.append("inject")

        def heal(self, stack: Any) -> None: ...

    nemesis = Nemesis(region["stack"], Timeline(), steady=True)
    with pytest.raises(NotSteady, match=r"^stack not steady: db: no synchronous standby .* \(waited 0\.\d s "
                                        r"before outage\(a, power\)\)$") as failed:
        nemesis.inject(Fault(), steady="300ms")
    assert failed.value.reasons == ["db: no synchronous standby (standbys: db-b-1 stopped/replica)"]
    assert calls == [] and nemesis.active == []
    assert [e.kind for e in nemesis.timeline.events] == ["not-steady"]
    nemesis.inject(Fault(), steady=False)  # the check turned off: injected anyway
    assert calls == ["inject"]


def test_bound_comes_from_the_call_then_the_environment(region: dict[str, Any]) -> None:
    stack = region["stack"]
    assert steady.timeout_s(stack, None) == steady.DEFAULT_TIMEOUT_S
    assert steady.timeout_s(stack, "5s") == 5
    assert steady.timeout_s(stack, False) is None
    object.__setattr__(stack.topology, "steady", {"timeout": "15s"})
    assert steady.timeout_s(stack, None) == 15
    object.__setattr__(stack.topology, "steady", {"check": False})
    assert steady.timeout_s(stack, None) is None


def test_drives_are_the_fewest_any_node_sees(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node that came back sees all six drives at once; a peer that has not reconnected to it yet
    still counts its two offline, and a request sent to that peer is served without them."""
    from pytest_azchaos.stack.roles import s3

    views = {"s3-a-1": 6, "s3-b-1": 6, "s3-c-1": 4}

    def admin_info(stack: Stack, member: Any) -> dict[str, Any]:
        drives = [{"state": "ok"}] * views[member.alias] + [{"state": "offline"}] * (6 - views[member.alias])
        return {"servers": [{"drives": drives}]}

    monkeypatch.setattr(s3, "admin_info", admin_info)
    monkeypatch.setattr(s3, "set_drives_online", lambda stack, member: None)  # the official image
    stack = Stack(load(ROOT / "environments" / "default.yaml"), run_id="t", backend=FakeBackend())  # type: ignore[arg-type]
    members = stack.members(role="s3")
    assert ROLES["s3"].drives(stack, members) == (4, 6)
    assert ROLES["s3"].not_steady(stack, members) == ["s3: 4/6 drives online"]
    views["s3-c-1"] = 6
    assert ROLES["s3"].not_steady(stack, members) == []


def test_drives_count_what_each_node_uses_not_only_what_admin_info_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Right after a start, every node's admin info says all drives "ok" while node a has not connected
    node c's drives yet: objects written through node a would get no shard on them. Only the header
    of our MinIO build shows it, and it counts."""
    from pytest_azchaos.stack.roles import s3

    in_use: dict[str, int | None] = {"s3-a-1": 4, "s3-b-1": 6, "s3-c-1": 6}
    monkeypatch.setattr(s3, "admin_info", lambda stack, member: {"servers": [{"drives": [{"state": "ok"}] * 6}]})
    monkeypatch.setattr(s3, "set_drives_online", lambda stack, member: in_use[member.alias])
    stack = Stack(load(ROOT / "environments" / "default.yaml"), run_id="t", backend=FakeBackend())  # type: ignore[arg-type]
    members = stack.members(role="s3")
    assert ROLES["s3"].drives(stack, members) == (4, 6)
    assert ROLES["s3"].not_steady(stack, members) == ["s3: 4/6 drives online"]
    in_use["s3-a-1"] = None  # no header (the official image): admin info alone
    assert ROLES["s3"].drives(stack, members) == (6, 6)


def test_the_set_drives_header_is_read_and_its_absence_is_no_view(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_azchaos.stack.roles import s3

    answers = [{"X-Azchaos-Set-Drives-Online": "5/6"}, {}, {"X-Azchaos-Set-Drives-Online": "junk"}]

    class Answer:
        def __init__(self, headers: dict[str, str]) -> None:
            self.headers = headers

    monkeypatch.setattr(s3.requests, "get", lambda url, timeout: Answer(answers.pop(0)))
    stack = Stack(load(ROOT / "environments" / "default.yaml"), run_id="t", backend=FakeBackend())  # type: ignore[arg-type]
    member = stack.members(role="s3")[0]
    assert [s3.set_drives_online(stack, member) for _ in range(3)] == [5, None, None]


class DyingBackend(FakeBackend):
    """app-c-1 is still "running" when asked, but its port is gone: a kill landing mid-check."""

    def published_port(self, name: str, port: int) -> int:
        if name.endswith("app-c-1"):
            from pytest_azchaos.errors import StackError
            raise StackError(f"container {name}: port {port} is not published on 127.0.0.1")
        return 1


def test_a_member_dying_while_checked_is_unhealthy_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_role, "http_ok", lambda url, timeout_s=1: True)
    monkeypatch.setattr("pytest_azchaos.stack.roles.base.http_ok", lambda url, timeout_s=1: True)
    stack = Stack(load(ROOT / "environments" / "default.yaml"), run_id="t", backend=DyingBackend())  # type: ignore[arg-type]
    app_c = next(m for m in stack.members_all if m.alias == "app-c-1")
    assert stack.is_healthy(app_c) is False
    assert "target app-c-1 unhealthy" in ROLES["app"].not_steady(stack, stack.members(role="app"))
