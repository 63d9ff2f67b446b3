"""A wheel ships every environment, every file of every image recipe, the fixtures, the example app and
the engine setup, as package data in pytest_azchaos/data/ (pytest_azchaos/resources.py finds them).

pyproject.toml names the package data one by one (a glob also matches a stray directory and breaks the
build, or ships a stray file); this test keeps that list and the folders in step, and keeps the
checkout's top-level paths (environments/, fixtures/, examples/app, scripts/ensure-docker.sh) pointing
at the shipped files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_azchaos import resources
from pytest_azchaos.errors import ConfigError

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pytest_azchaos"
DATA = PACKAGE / "data"


def setuptools_table() -> dict[str, object]:
    table: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return table


def package_data() -> list[str]:
    """Return the data files pyproject.toml ships, relative to pytest_azchaos/."""
    listed = setuptools_table()["package-data"]["pytest_azchaos"]  # type: ignore[index]
    return [f for f in listed if f != "py.typed"]


def expected() -> set[str]:
    """Return every file of pytest_azchaos/data/ (what a wheel must carry), relative to pytest_azchaos/."""
    found = {p for p in DATA.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    return {p.relative_to(PACKAGE).as_posix() for p in found}


def test_every_recipe_folder_is_shipped_whole() -> None:
    shipped = set(package_data())
    recipes = sorted(p.name for p in (DATA / "environments" / "images").iterdir() if p.is_dir())
    assert {"debian", "nginx", "example-app", "etcd", "haproxy", "postgres-patroni", "minio",
            "toxiproxy"} <= set(recipes)
    for recipe in recipes:
        files = [f for f in expected() if f.startswith(f"data/environments/images/{recipe}/")]
        missing = [f for f in files if f not in shipped]
        assert files and not missing, f"recipe {recipe}: not in pyproject's package-data: {missing}"


def test_package_data_and_folders_agree() -> None:
    shipped = package_data()
    assert sorted(expected() - set(shipped)) == [], "files of pytest_azchaos/data/ a wheel would miss"
    assert sorted(set(shipped) - expected()) == [], "package-data that are not files of pytest_azchaos/data/"
    assert len(shipped) == len(set(shipped)), "a file is listed twice"
    assert {"data/app/app.py", "data/scripts/ensure-docker.sh", "data/fixtures/nginx/nginx.conf.template",
            "data/environments/default.yaml", "data/environments/minimal.yaml"} <= set(shipped)


def test_no_package_data_is_a_glob_and_nothing_else_ships() -> None:
    globs = [f for f in package_data() if any(c in f for c in "*?[")]
    assert globs == [], "a glob ships whatever matches, and a directory that matches breaks the build"
    assert setuptools_table()["include-package-data"] is False, "the package-data list must be all that ships"
    assert "data-files" not in setuptools_table(), "data files under share/ break user and relocated installs"


@pytest.mark.parametrize(("link", "target"), [
    ("environments", "pytest_azchaos/data/environments"),
    ("fixtures", "pytest_azchaos/data/fixtures"),
    ("examples/app", "pytest_azchaos/data/app"),
    ("scripts/ensure-docker.sh", "pytest_azchaos/data/scripts/ensure-docker.sh"),
])
def test_the_checkout_paths_lead_to_the_shipped_files(link: str, target: str) -> None:
    assert (ROOT / link).is_symlink(), f"{link} should be a symlink to {target} (see pytest_azchaos/resources.py)"
    assert (ROOT / link).resolve() == (ROOT / target).resolve()


def test_bundled_data_is_found_in_the_package() -> None:
    assert resources.data_root() == DATA
    assert resources.environment_file("minimal") == DATA / "environments" / "minimal.yaml"
    assert resources.fixture("nginx/nginx.conf.template").is_file()
    assert resources.environment_file("environments/minimal.yaml") == Path("environments/minimal.yaml")
    assert {"default", "minimal"} <= set(resources.bundled_environments())


def test_an_unknown_bundled_environment_names_the_bundled_ones() -> None:
    with pytest.raises(ConfigError, match=r"no bundled environment 'minmal': choose one of \[.*'minimal'"):
        resources.environment_file("minmal")


def test_the_example_app_recipe_builds_from_the_shipped_app() -> None:
    from pytest_azchaos.stack.images import Recipe

    recipe = Recipe.load(DATA / "environments" / "images" / "example-app")
    assert recipe.context == DATA / "app"
    assert dict(recipe.files())["app.py"] == DATA / "app" / "app.py"
