"""A built wheel holds every recipe folder, environment and fixture (needs the package index for setuptools)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "pytest_azchaos", "environments", "fixtures", "scripts",
           "examples/app"]


@pytest.mark.integration
def test_the_wheel_ships_every_recipe_folder(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in SOURCES:  # a copy: the build writes build/ and *.egg-info next to the sources
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(tmp_path / "out")],
                   cwd=src, check=True, timeout=600)
    (wheel,) = (tmp_path / "out").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    share = "pytest_azchaos-0.1.0.data/data/share/pytest-azchaos/"
    for recipe in sorted(p for p in (ROOT / "environments" / "images").iterdir() if p.is_dir()):
        for file in recipe.iterdir():
            assert f"{share}environments/images/{recipe.name}/{file.name}" in names
    for env in (ROOT / "environments").glob("*.yaml"):
        assert f"{share}environments/{env.name}" in names
    assert f"{share}scripts/ensure-docker.sh" in names
