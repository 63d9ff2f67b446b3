"""A wheel ships every environment, every file of every image recipe, the fixtures and the engine setup.

pyproject.toml names the data files one by one (a glob also matches a stray directory and breaks the
build); this test keeps that list and the folders in step.
"""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
SHARE = "share/pytest-azchaos/"


def data_files() -> dict[str, list[str]]:
    """Return where each shipped file goes (its folder under share/pytest-azchaos) by file."""
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    return {file: [dest] for dest, files in table.items() for file in files}


def expected() -> set[str]:
    found = {p for p in ROOT.glob("environments/*.yaml") if p.is_file()}
    found |= {p for p in (ROOT / "environments" / "images").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    found |= {p for p in (ROOT / "fixtures").rglob("*") if p.is_file()}
    found |= {ROOT / "examples" / "app" / "app.py", ROOT / "scripts" / "ensure-docker.sh"}
    return {p.relative_to(ROOT).as_posix() for p in found}


def test_every_recipe_folder_is_shipped_whole() -> None:
    shipped = data_files()
    recipes = sorted(p.name for p in (ROOT / "environments" / "images").iterdir() if p.is_dir())
    assert {"etcd", "haproxy", "postgres-patroni", "minio", "toxiproxy"} <= set(recipes)
    for recipe in recipes:
        files = [f for f in expected() if f.startswith(f"environments/images/{recipe}/")]
        missing = [f for f in files if f not in shipped]
        assert not missing, f"recipe {recipe}: not in pyproject's data-files: {missing}"


def test_data_files_and_folders_agree() -> None:
    shipped = data_files()
    assert sorted(expected() - set(shipped)) == [], "files a wheel would miss"
    assert sorted(set(shipped) - expected()) == [], "data-files that are not files of the checkout"
    for file, (dest,) in shipped.items():
        assert dest == (SHARE + file).rsplit("/", 1)[0], f"{file} would be installed in {dest}"


def test_no_data_file_is_a_glob() -> None:
    globs = [f for f in data_files() if any(c in f for c in "*?[")]
    assert globs == [], "a glob ships whatever matches, and a directory that matches breaks the build"
