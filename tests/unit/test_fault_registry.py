"""Fault types by name, their records across processes, and the command line that builds them."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_azchaos import cli, cli_faults
from pytest_azchaos.errors import ConfigError
from pytest_azchaos.faults import AzOutage, InstanceFault, LinkCut, LinkToxic
from pytest_azchaos.faults.registry import FaultRegistry, default_registry
from pytest_azchaos.faults.state import FaultState


def parse(*argv: str) -> argparse.Namespace:
    return cli._parser().parse_args(["fault", *argv])


@pytest.mark.parametrize(("argv", "expected"), [
    (["outage", "a", "--mode", "freeze"], AzOutage("a", mode="freeze")),
    (["kill", "db-primary"], InstanceFault("db-primary", "kill")),
    (["pause", "app-b-1", "--for", "10s"], InstanceFault("app-b-1", "pause")),
    (["toxic", "a/app->db", "latency", "latency=200", "jitter=20", "--toxicity", "0.5", "--direction", "both"],
     LinkToxic("a/app->db", "latency", (("jitter", 20), ("latency", 200)), 0.5, "both")),
    (["cut", "b/app->s3"], LinkCut("b/app->s3")),
])
def test_the_command_line_builds_faults(argv: list[str], expected: Any) -> None:
    assert cli_faults.build(parse(*argv), default_registry()) == expected


@pytest.mark.parametrize(("argv", "error"), [
    (["toxic", "a/app->db", "latency", "latency"], "expected KEY=VALUE, found 'latency'"),
    (["toxic", "a/app->db", "latency", "latency=fast"], "toxic attribute latency: expected a whole number"),
    (["custom", "disk-full", "size=1"],
     "unknown fault type 'disk-full': expected one of cut, instance, outage, stress, toxic"),
])
def test_bad_command_lines_are_config_errors(argv: list[str], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        cli_faults.build(parse(*argv), default_registry())


def test_a_record_rebuilds_the_same_fault_after_a_trip_through_json() -> None:
    registry = default_registry()
    for fault in (AzOutage("c", mode="network"), InstanceFault("etcd", "stop"), LinkCut("a/lb->app-a-1"),
                  LinkToxic("a/app->db", "slicer", (("average_size", 10), ("delay", 5)), 0.3, "upstream")):
        record = json.loads(json.dumps(registry.record(fault)))
        assert registry.build(record["type"], record["fields"]) == fault


@dataclasses.dataclass(frozen=True)
class DiskFull:
    path: str = "/data"

    @property
    def subject(self) -> str:
        return f"disk-full({self.path})"

    def validate(self, stack: Any) -> None:
        pass

    def inject(self, stack: Any) -> None:
        pass

    def heal(self, stack: Any) -> None:
        pass


def test_plugins_add_fault_types() -> None:
    registry = FaultRegistry()
    registry.add("disk-full", DiskFull)
    assert registry.build("disk-full", {"path": "/x"}) == DiskFull("/x")
    assert registry.record(DiskFull()) == {"type": "disk-full", "fields": {"path": "/data"}}
    with pytest.raises(ConfigError, match="fault type 'disk-full' has no field size: expected path"):
        registry.build("disk-full", {"size": "1"})
    with pytest.raises(ConfigError, match="must be a dataclass"):
        registry.add("bad", str)
    with pytest.raises(ConfigError, match="not a registered fault type"):
        FaultRegistry().record(DiskFull())


def test_state_records_are_shared_through_a_locked_file(tmp_path: Path) -> None:
    state = FaultState("run1", folder=tmp_path)
    assert state.records() == []
    first = state.add({"type": "outage", "fields": {"az": "a", "mode": "power"}}, subject="outage(a, power)")
    second = FaultState("run1", folder=tmp_path).add({"type": "cut", "fields": {"link": "x"}}, subject="cut(x)",
                                                     expires_in_s=60)
    assert (first, second) == ("f1", "f2")
    records = FaultState("run1", folder=tmp_path).records()
    assert [r["subject"] for r in records] == ["outage(a, power)", "cut(x)"]
    assert records[0]["expires_at"] is None and records[1]["expires_at"] > records[1]["injected_at"]
    state.remove("f1")
    assert [r["id"] for r in state.records()] == ["f2"]
    assert state.add({"type": "cut", "fields": {"link": "y"}}, subject="cut(y)") == "f3"
    state.clear()
    assert state.records() == []
    assert FaultState("other", folder=tmp_path).records() == []


def test_a_record_counts_its_duration_from_when_the_fault_took_effect(tmp_path: Path) -> None:
    """`azchaos fault ... --for 30s` waited for a steady stack and for the effect before recording:
    its "since" and expiry were stamped seconds after the containers were hit."""
    state = FaultState("run1", folder=tmp_path)
    state.add({"type": "cut", "fields": {"link": "x"}}, subject="cut(x)", expires_in_s=30, injected_at=1000.0)
    record = state.records()[0]
    assert record["injected_at"] == 1000.0 and record["expires_at"] == 1030.0
