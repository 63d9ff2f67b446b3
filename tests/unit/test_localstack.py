"""The AWS-flavoured region: LocalStack stands in for an s3 service (environments/localstack.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_azchaos import ConfigError, Stack, load
from pytest_azchaos.stack import images
from pytest_azchaos.stack.roles import ROLES
from pytest_azchaos.stack.roles.lb import render

ROOT = Path(__file__).resolve().parents[2]


def stack() -> Stack:
    return Stack(load(ROOT / "environments" / "localstack.yaml"), backend=object(), run_id="r1")  # type: ignore[arg-type]


def test_localstack_is_one_regional_member_that_the_apps_and_the_lb_use_as_s3() -> None:
    s = stack()
    (member,) = s.members(role="localstack")
    assert (member.alias, member.az, member.port) == ("s3", "region", 4566)
    assert s.topology.service("app").options["s3"] == "s3" and s.topology.service("lb").options["s3"] == "s3"
    assert "server s3:4566 " in render(s, s.topology.service("lb"))
    env = ROLES["app"].environment(s, s.members(role="app", az="b")[0])
    assert env["S3_ENDPOINT_URL"] == "http://toxiproxy-b-1:19000" and env["S3_BUCKET"] == "azchaos"
    assert ROLES["localstack"].environment(s, member)["GATEWAY_LISTEN"] == "0.0.0.0:4566"


def test_the_s3_links_are_the_same_as_with_minio() -> None:
    names = {link.name: link.upstream for link in stack().links()}
    assert names["b/app->s3"] == names["region/client->s3"] == "lb:9000"
    assert "region/client->db" not in names  # no DB in this region


def test_a_service_of_another_role_is_still_refused_as_s3(tmp_path: Path) -> None:
    text = (ROOT / "environments" / "localstack.yaml").read_text()
    text = text.replace("    s3: s3\n    s3_port", "    s3: app\n    s3_port")
    path = tmp_path / "bad.yaml"
    path.write_text(f"images: {ROOT / 'environments' / 'images'}\n" + text)
    with pytest.raises(ConfigError, match=r"unknown s3 service 'app': expected one of s3"):
        load(path)


def test_a_recipe_for_another_python_downloads_wheels_for_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    recipe = images.Recipe.load(ROOT / "environments" / "images" / "localstack")
    assert recipe.pip_python == "3.13" and recipe.base == "debian-trixie"
    assert any(pin.startswith("localstack-core==") for pin in recipe.pip_download)
    commands: list[list[str]] = []
    monkeypatch.setattr(images, "_run_step", lambda name, step, cmd, progress, **kw: commands.append(cmd))
    images._pip_download(recipe, tmp_path, lambda m: None)
    assert commands[0][commands[0].index("--python-version") + 1] == "3.13"
    assert "--no-deps" in commands[0] and "--only-binary=:all:" in commands[0]
