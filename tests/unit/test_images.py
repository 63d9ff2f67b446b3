from __future__ import annotations

from pathlib import Path

import pytest

from pytest_azchaos.errors import ConfigError
from pytest_azchaos.images import ImageSet

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def recipes(tmp_path: Path) -> Path:
    (tmp_path / "debian").mkdir()
    (tmp_path / "debian" / "recipe.yaml").write_text("debootstrap: {suite: bookworm}\n")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "recipe.yaml").write_text("base: debian\n")
    (tmp_path / "web" / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\n")
    return tmp_path


def images(recipes: Path) -> ImageSet:
    return ImageSet(recipes, client=object(), progress=lambda m: None)  # type: ignore[arg-type]


def test_tags_are_content_addressed(recipes: Path) -> None:
    first = images(recipes).tag(images(recipes).recipe("web"))  # type: ignore[arg-type]
    assert first.startswith("azchaos/web:") and first == images(recipes).tag(images(recipes).recipe("web"))  # type: ignore[arg-type]
    (recipes / "web" / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nRUN true\n")
    second = images(recipes).tag(images(recipes).recipe("web"))  # type: ignore[arg-type]
    assert second != first
    (recipes / "debian" / "recipe.yaml").write_text("debootstrap: {suite: trixie}\n")
    assert images(recipes).tag(images(recipes).recipe("web")) != second  # type: ignore[arg-type]


def test_plain_names_are_not_recipes(recipes: Path) -> None:
    assert images(recipes).recipe("nginx:1.27") is None


def test_bad_recipes(recipes: Path) -> None:
    (recipes / "web" / "recipe.yaml").write_text("base: debian\nbogus: 1\n")
    with pytest.raises(ConfigError, match="unknown keys \\['bogus'\\]"):
        images(recipes).recipe("web")
    (recipes / "empty").mkdir()
    (recipes / "empty" / "recipe.yaml").write_text("base: debian\n")
    with pytest.raises(ConfigError, match="needs a Dockerfile"):
        images(recipes).recipe("empty")


def test_bad_mode(recipes: Path) -> None:
    with pytest.raises(ConfigError, match="image mode 'bogus'"):
        ImageSet(recipes, mode="bogus", client=object())  # type: ignore[arg-type]


def test_bundled_recipes_load() -> None:
    bundled = images(ROOT / "environments" / "images")
    for name in ("debian", "nginx", "example-app", "etcd", "postgres-patroni", "haproxy", "minio", "toxiproxy"):
        recipe = bundled.recipe(name)
        assert recipe is not None and bundled.tag(recipe).startswith(f"azchaos/{name}:")
    assert bundled.recipe("minio").go_install[0].startswith("github.com/minio/minio@v")  # type: ignore[union-attr]
