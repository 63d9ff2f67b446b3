"""Stack.sql: a statement run inside a DB node, on its own socket (the DB role's psql)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_azchaos.errors import ConfigError
from pytest_azchaos.stack import Stack
from pytest_azchaos.topology import load


class Backend:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def exec(self, name: str, command: list[str]) -> tuple[int, str]:
        self.calls.append((name, command))
        return 0, "1\n"


def test_sql_runs_psql_in_the_node_and_refuses_other_members() -> None:
    backend: Any = Backend()
    stack = Stack(load(Path(__file__).resolve().parents[2] / "environments" / "default.yaml"), run_id="t",
                  backend=backend)
    db = stack.members(role="db")[1]
    assert stack.sql(db, "SELECT 1") == (0, "1\n")
    [(container, command)] = backend.calls
    assert container == db.container
    assert command[0] == "psql" and command[-2:] == ["-c", "SELECT 1"] and "/run/postgresql" in command
    with pytest.raises(ConfigError, match="app-a-1 is not a DB node"):
        stack.sql(stack.members(role="app")[0], "SELECT 1")
