"""The regions of a run in Allure's environment.properties: the entries, the .properties escaping,
and a user's own lines kept. The real Allure generator reads the file in tests/integration/test_allure.py."""

from __future__ import annotations

from pathlib import Path

from pytest_azchaos import __version__
from pytest_azchaos.allure_report import OURS, _escape, environment_properties, write_environment

DEFAULT = {"run_id": "r1", "environment": "/x/environments/default.yaml", "azs": ["a", "b", "c"],
           "images": {"lb/lb": "azchaos/nginx:eb8de7dc9c51", "toxiproxy/toxiproxy-region": "azchaos/toxiproxy:9a"}}


def test_each_region_is_named_by_its_environment_file() -> None:
    other = {"run_id": "r2", "environment": "/y/default.yaml", "azs": ["a", "b"], "images": {}}
    found = dict(environment_properties([DEFAULT, other]))
    assert found["pytest-azchaos"] == __version__
    assert found["default AZs"] == "a, b, c" and found["default run"] == "r1"
    assert found["default lb"] == "azchaos/nginx:eb8de7dc9c51"  # a service of its own role: its name alone
    assert found["default toxiproxy/toxiproxy-region"] == "azchaos/toxiproxy:9a"
    assert found["default file"] == "/x/environments/default.yaml"
    assert found["default-2 AZs"] == "a, b" and found["default-2 run"] == "r2"  # a second file of that name


def test_keys_and_values_are_escaped_as_java_properties() -> None:
    assert _escape("azchaos/nginx:eb8") == "azchaos/nginx:eb8"  # a separator inside a value needs nothing
    assert _escape("default AZs", key=True) == "default\\ AZs"
    assert _escape("a key:with=signs#!", key=True) == "a\\ key\\:with\\=signs\\#\\!"
    assert _escape(" lead\\ing\nline") == "\\ lead\\\\ing\\nline"
    assert _escape("Zürich \U0001F600") == "Z\\u00fcrich \\ud83d\\ude00"  # Latin-1 file: beyond ASCII escaped


def test_a_users_own_lines_are_kept_and_ours_replaced(tmp_path: Path) -> None:
    (tmp_path / "environment.properties").write_text(f"Browser = Chromium\n# a comment\n{OURS}\nold = z\n")
    path = write_environment(tmp_path, [DEFAULT])
    lines = path.read_text(encoding="latin-1").splitlines()
    assert lines[:3] == ["Browser = Chromium", "# a comment", OURS] and "old = z" not in lines
    assert "default\\ AZs = a, b, c" in lines
    assert write_environment(tmp_path, [DEFAULT]).read_text(encoding="latin-1").splitlines() == lines  # stable
    assert [p.name for p in tmp_path.iterdir()] == ["environment.properties"]  # no temporary file left
