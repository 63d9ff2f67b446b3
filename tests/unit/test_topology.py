from __future__ import annotations

from pathlib import Path

import pytest

from pytest_azchaos.errors import ConfigError
from pytest_azchaos.topology import load

ROOT = Path(__file__).resolve().parents[2]
GOOD = """\
azs: [a, b]
services:
  app:
    role: app
    image: example-app
    replicas_per_az: 2
  lb:
    role: lb
    image: nginx
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "env.yaml"
    path.write_text(text)
    return path


def error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path)
    return str(info.value)


def test_bundled_environments_load() -> None:
    minimal = load(ROOT / "environments" / "minimal.yaml")
    assert minimal.azs == ("a", "b")
    assert minimal.service("app").replicas_per_az == 2
    assert minimal.service("lb").targets == "app"
    default = load(ROOT / "environments" / "default.yaml")
    assert default.azs == ("a", "b", "c")
    assert default.service("db").azs == ("a", "b")
    assert default.service("db").options["dcs"] == "etcd"
    assert default.service("db").options["ttl"] == 10.0


def test_defaults(tmp_path: Path) -> None:
    topo = load(write(tmp_path, GOOD))
    assert topo.service("app").azs == ("a", "b")
    assert topo.service("app").port == 8080
    assert topo.service("lb").port == 80
    assert topo.service("lb").regional
    assert topo.service("lb").connect_timeout_s == 0.5


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml: environment file not found"):
        load(tmp_path / "nope.yaml")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    message = error(tmp_path, "azs: [a, b]\nservices:\n  app: {role: app\n")
    assert message.startswith(f"{tmp_path / 'env.yaml'}:4: not valid YAML")


def test_unknown_top_level_key_suggests_the_right_one(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("services:", "servics:"))
    assert f"{tmp_path / 'env.yaml'}:2:" in message
    assert "did you mean 'services'?" in message


def test_unknown_service_key_names_its_line(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("replicas_per_az: 2", "replicas: 2"))
    assert f"{tmp_path / 'env.yaml'}:6:" in message
    assert "did you mean 'replicas_per_az'?" in message


def test_key_of_another_role_is_refused(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("replicas_per_az: 2", "retry: false"))
    assert "unknown key in service 'app' (role app) 'retry'" in message


def test_unknown_role(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("role: app", "role: ap"))
    assert ":4: unknown role 'ap'" in message and "did you mean 'app'?" in message


def test_unknown_az(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("replicas_per_az: 2", "azs: [a, z]"))
    assert ":6: unknown AZ 'z': expected one of a, b" in message


def test_unknown_lb_target(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD + "    targets: web\n")
    assert "unknown lb target 'web': expected one of app" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("replicas_per_az: 0", "'replicas_per_az' must be a whole number >= 1, found 0"),
        ("port: 70000", "'port' must be a TCP port 1-65535, found 70000"),
        ("health: healthz", "'health' must be an HTTP path"),
        ("environment: [A]", "'environment' must be a mapping"),
    ],
)
def test_bad_values(tmp_path: Path, line: str, expected: str) -> None:
    assert expected in error(tmp_path, GOOD.replace("replicas_per_az: 2", line))


@pytest.mark.parametrize(("value", "expected"), [("fast", "expected a duration"), ("-1s", "expected a duration")])
def test_bad_durations(tmp_path: Path, value: str, expected: str) -> None:
    message = error(tmp_path, GOOD + f"    connect_timeout: {value}\n")
    assert ":10: connect_timeout:" in message and expected in message


def test_db_needs_an_etcd_service(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD + "  db:\n    role: db\n    image: postgres-patroni\n")
    assert "service 'db' needs an etcd service for Patroni" in message


def test_references_must_name_the_right_role(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("replicas_per_az: 2", "db: lb"))
    assert "unknown db service 'lb'" in message


def test_azs_must_be_a_list_of_unique_names(tmp_path: Path) -> None:
    assert "'azs' must be a non-empty list" in error(tmp_path, GOOD.replace("azs: [a, b]", "azs: a"))
    assert "AZ names must be unique" in error(tmp_path, GOOD.replace("azs: [a, b]", "azs: [a, a]"))


def test_check_az(tmp_path: Path) -> None:
    topo = load(write(tmp_path, GOOD))
    assert topo.check_az("a") == "a"
    with pytest.raises(ConfigError, match="unknown AZ 'c': expected one of a, b"):
        topo.check_az("c")
