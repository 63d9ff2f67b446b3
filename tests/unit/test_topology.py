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
# Line 10 is the first line appended to GOOD (a key of the lb).


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "env.yaml"
    path.write_text(text)
    return path


def error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path)
    return str(info.value)


def at(tmp_path: Path, line: int) -> str:
    return f"{tmp_path / 'env.yaml'}:{line}: "


def test_minimal_environment_loads() -> None:
    minimal = load(ROOT / "environments" / "minimal.yaml")
    assert minimal.name == "minimal"
    assert minimal.azs == ("a", "b")
    assert minimal.service("app").replicas_per_az == 2
    assert minimal.service("app").azs == ("a", "b")
    assert minimal.service("lb").options["targets"] == "app"
    assert minimal.service("lb").regional
    assert [s.name for s in minimal.by_role("app")] == ["app"]


def test_default_environment_loads() -> None:
    default = load(ROOT / "environments" / "default.yaml")
    assert default.azs == ("a", "b", "c")
    assert default.service("db").azs == ("a", "b")
    assert default.service("db").options["dcs"] == "etcd"
    assert default.service("db").options["ttl"] == 20.0


def test_defaults(tmp_path: Path) -> None:
    topo = load(write(tmp_path, GOOD))
    assert topo.service("app").azs == ("a", "b")
    assert topo.service("app").port == 8080
    assert topo.service("lb").port == 80
    assert topo.service("lb").options["targets"] == "app"  # the only app: no need to name it
    assert topo.service("lb").options["connect_timeout"] == 0.5


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml: environment file not found"):
        load(tmp_path / "nope.yaml")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    message = error(tmp_path, "azs: [a, b]\nservices:\n  app: {role: app\n")
    assert message.startswith(at(tmp_path, 4) + "not valid YAML")


def test_not_a_mapping(tmp_path: Path) -> None:
    assert "expected a mapping with 'azs' and 'services'" in error(tmp_path, "- a\n- b\n")


def test_unknown_top_level_key_suggests_the_right_one(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("services:", "servics:"))
    assert message.startswith(at(tmp_path, 2) + "unknown key in top level 'servics'")
    assert message.endswith("did you mean 'services'?")


def test_unknown_service_key_names_its_line(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("replicas_per_az: 2", "replicas: 2"))
    assert message.startswith(at(tmp_path, 6) + "unknown key in service 'app' (role app) 'replicas'")
    assert message.endswith("did you mean 'replicas_per_az'?")


def test_key_of_another_role_is_refused(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("replicas_per_az: 2", "retry: false"))
    assert message.startswith(at(tmp_path, 6) + "unknown key in service 'app' (role app) 'retry'")


def test_unknown_role(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("role: app", "role: ap"))
    assert message.startswith(at(tmp_path, 4) + "unknown role 'ap'")
    assert message.endswith("did you mean 'app'?")


def test_unknown_az(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("replicas_per_az: 2", "azs: [a, z]"))
    assert message == at(tmp_path, 6) + "unknown AZ 'z': expected one of a, b"


def test_the_lb_is_regional(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD + "    azs: [a]\n")
    assert message.startswith(at(tmp_path, 10) + "service 'lb': a lb service is regional (one for the whole region)")


def test_unknown_lb_target(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD + "    targets: web\n")
    assert message.startswith(at(tmp_path, 10) + "unknown app service 'web': expected one of app")


REPLICAS = "'replicas_per_az' must be a whole number from 1 to 16 (each one is a container on this host)"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("replicas_per_az: 0", REPLICAS + ", found 0"),
        ("replicas_per_az: -2", REPLICAS + ", found -2"),
        ("replicas_per_az: two", REPLICAS + ", found 'two'"),
        ("port: 70000", "'port' must be a TCP port 1-65535, found 70000"),
        ("port: 0", "'port' must be a TCP port 1-65535, found 0"),
        ("port: http", "'port' must be a TCP port 1-65535, found 'http'"),
        ("health: healthz", "'health' must be an HTTP path like /healthz, found 'healthz'"),
        ("environment: [A]", "'environment' must be a mapping of NAME: value"),
    ],
)
def test_bad_values(tmp_path: Path, line: str, expected: str) -> None:
    assert error(tmp_path, GOOD.replace("replicas_per_az: 2", line)) == at(tmp_path, 6) + expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("fast", "connect_timeout: expected a duration like '10s', '500ms' or '2m', found 'fast'"),
        ("-1s", "connect_timeout: expected a duration like '10s', '500ms' or '2m', found '-1s'"),
        ("-1", "connect_timeout: a duration cannot be negative, found -1"),
    ],
)
def test_bad_durations(tmp_path: Path, value: str, expected: str) -> None:
    assert error(tmp_path, GOOD + f"    connect_timeout: {value}\n") == at(tmp_path, 10) + expected


def test_good_duration(tmp_path: Path) -> None:
    assert load(write(tmp_path, GOOD + "    connect_timeout: 2s\n")).service("lb").options["connect_timeout"] == 2.0


def test_db_needs_an_etcd_service(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD + "  db:\n    role: db\n    image: postgres-patroni\n")
    assert "service 'db' needs a service of role etcd ('dcs')" in message


def test_references_must_name_the_right_role(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("replicas_per_az: 2", "db: lb"))
    assert message.startswith(at(tmp_path, 6) + "unknown db service 'lb'")


def test_azs_must_be_a_list_of_unique_names(tmp_path: Path) -> None:
    assert error(tmp_path, GOOD.replace("azs: [a, b]", "azs: a")).startswith(at(tmp_path, 1) + "'azs' must be")
    assert "AZ names must be unique" in error(tmp_path, GOOD.replace("azs: [a, b]", "azs: [a, a]"))
    assert "AZ name 'A' must be lowercase" in error(tmp_path, GOOD.replace("azs: [a, b]", "azs: [A, b]"))


def test_check_az(tmp_path: Path) -> None:
    topo = load(write(tmp_path, GOOD))
    assert topo.check_az("a") == "a"
    with pytest.raises(ConfigError, match="unknown AZ 'c': expected one of a, b"):
        topo.check_az("c")


def test_service_lookup(tmp_path: Path) -> None:
    topo = load(write(tmp_path, GOOD))
    assert topo.service("lb").role == "lb"
    with pytest.raises(ConfigError, match="unknown service 'ap': expected one of app, lb; did you mean 'app'?"):
        topo.service("ap")


def test_service_that_is_not_a_mapping_names_its_line(tmp_path: Path) -> None:
    message = error(tmp_path, "azs: [a]\nservices:\n  app: 3\n")
    assert message.startswith(at(tmp_path, 3))


def test_command_given_as_a_string_is_refused_not_split_into_characters(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("replicas_per_az: 2", "command: python3 app.py"))
    assert message == (at(tmp_path, 6) + "'command' must be a list, e.g. [python3, app.py], "
                       "found 'python3 app.py'")
