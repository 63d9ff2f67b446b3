from __future__ import annotations

from pathlib import Path

import pytest

from pytest_azchaos.errors import ConfigError
from pytest_azchaos.images import ImageSet, Recipe

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
    # tag() and recipe() never touch Docker, so any object stands in for the client.
    return ImageSet(recipes, client=object(), progress=lambda m: None)


def tag(recipes: Path, name: str) -> str:
    image_set = images(recipes)
    recipe = image_set.recipe(name)
    assert recipe is not None
    return image_set.tag(recipe)


def test_recipes_load(recipes: Path) -> None:
    web = images(recipes).recipe("web")
    assert web == Recipe("web", recipes / "web", None, "debian", None, None, ())
    debian = images(recipes).recipe("debian")
    assert debian is not None and debian.base is None and debian.debootstrap == {"suite": "bookworm"}


def test_tags_are_stable(recipes: Path) -> None:
    first = tag(recipes, "web")
    assert first.startswith("azchaos/web:") and len(first.partition(":")[2]) == 12
    assert tag(recipes, "web") == first


def test_tag_changes_with_the_dockerfile(recipes: Path) -> None:
    first = tag(recipes, "web")
    (recipes / "web" / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nRUN true\n")
    assert tag(recipes, "web") != first


def test_tag_changes_with_the_base_recipe(recipes: Path) -> None:
    first = tag(recipes, "web")
    (recipes / "debian" / "recipe.yaml").write_text("debootstrap: {suite: trixie}\n")
    assert tag(recipes, "web") != first


def test_tag_ignores_pycache(recipes: Path) -> None:
    first = tag(recipes, "web")
    (recipes / "web" / "__pycache__").mkdir()
    (recipes / "web" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert tag(recipes, "web") == first


def test_missing_base_recipe(recipes: Path) -> None:
    (recipes / "web" / "recipe.yaml").write_text("base: ubuntu\n")
    with pytest.raises(ConfigError, match="base recipe 'ubuntu' not found"):
        tag(recipes, "web")


def test_plain_names_are_not_recipes(recipes: Path) -> None:
    assert images(recipes).recipe("nginx:1.27") is None
    assert images(recipes).recipe("absent") is None


def test_unknown_recipe_key(recipes: Path) -> None:
    (recipes / "web" / "recipe.yaml").write_text("base: debian\nbogus: 1\n")
    with pytest.raises(ConfigError, match=r"web/recipe.yaml: unknown keys \['bogus'\]"):
        images(recipes).recipe("web")


def test_recipe_needs_a_dockerfile_or_debootstrap(recipes: Path) -> None:
    (recipes / "empty").mkdir()
    (recipes / "empty" / "recipe.yaml").write_text("base: debian\n")
    with pytest.raises(ConfigError, match="empty: a recipe needs a Dockerfile"):
        images(recipes).recipe("empty")


def test_invalid_recipe_yaml(recipes: Path) -> None:
    (recipes / "web" / "recipe.yaml").write_text("base: [debian\n")
    with pytest.raises(ConfigError, match="web/recipe.yaml: not valid YAML"):
        images(recipes).recipe("web")


def test_bad_mode(recipes: Path) -> None:
    with pytest.raises(ConfigError, match="image mode 'bogus': expected one of auto, offline, official"):
        ImageSet(recipes, mode="bogus", client=object())


@pytest.mark.parametrize("name", ["debian", "nginx", "example-app", "etcd", "postgres-patroni", "haproxy", "minio",
                                  "toxiproxy"])
def test_bundled_recipes_load_and_have_tags(name: str) -> None:
    assert tag(ROOT / "environments" / "images", name).startswith(f"azchaos/{name}:")


def test_bundled_example_app_has_its_context() -> None:
    recipe = images(ROOT / "environments" / "images").recipe("example-app")
    assert recipe is not None and recipe.context == (ROOT / "examples" / "app").resolve()
    assert "app.py" in dict(recipe.files())


def test_debootstrap_with_all_defaults_has_no_base(recipes: Path) -> None:
    (recipes / "debian" / "recipe.yaml").write_text("debootstrap: {}\n")
    recipe = images(recipes).recipe("debian")
    assert recipe is not None and recipe.base is None


def test_pinned_wheels_are_part_of_the_recipe_and_the_build_context(recipes: Path, tmp_path: Path) -> None:
    import tarfile

    from pytest_azchaos.stack.images import _context_tar

    first = tag(recipes, "web")
    (recipes / "web" / "recipe.yaml").write_text("base: debian\npip_download:\n  - patroni==3.1.2\n")
    web = images(recipes).recipe("web")
    assert web is not None and web.pip_download == ("patroni==3.1.2",)
    assert tag(recipes, "web") != first, "another pinned wheel is another image"
    gobin, wheels = tmp_path / "gobin", tmp_path / "wheels"
    gobin.mkdir()
    wheels.mkdir()
    (wheels / "patroni-3.1.2-py3-none-any.whl").write_bytes(b"zip")
    with tarfile.open(fileobj=_context_tar(web, gobin, wheels)) as tar:
        names = tar.getnames()
    assert "wheels/patroni-3.1.2-py3-none-any.whl" in names and "Dockerfile" in names


def test_an_environment_without_recipes_uses_the_bundled_ones(tmp_path: Path) -> None:
    """A user's environment file (no images/ beside it) builds the region from the installed package's recipes."""
    bundled = ROOT / "pytest_azchaos" / "data" / "environments" / "images"
    image_set = images(tmp_path / "images")
    nginx = image_set.recipe("nginx")
    assert nginx is not None and nginx.folder == bundled / "nginx"
    assert image_set.tag(nginx) == tag(bundled, "nginx")
    assert {"debian", "nginx", "minio"} <= set(image_set.recipe_names())
    assert image_set.recipe("absent") is None


def test_the_environments_own_recipe_wins_over_the_bundled_one(recipes: Path) -> None:
    (recipes / "nginx").mkdir()
    (recipes / "nginx" / "recipe.yaml").write_text("base: web\n")
    (recipes / "nginx" / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\n")
    nginx = images(recipes).recipe("nginx")
    assert nginx is not None and nginx.folder == recipes / "nginx" and nginx.base == "web"
    assert {"web", "nginx", "toxiproxy"} <= set(images(recipes).recipe_names())


def test_go_patches_are_files_of_the_recipe(recipes: Path) -> None:
    (recipes / "web" / "fix.patch").write_text("--- a/x\n+++ b/x\n")
    (recipes / "web" / "recipe.yaml").write_text(
        "base: debian\ngo_install: [example.com/x@v1]\ngo_patches: [fix.patch]\n")
    web = images(recipes).recipe("web")
    assert web is not None and web.go_patches == ("fix.patch",)
    first = images(recipes).tag(web)
    (recipes / "web" / "fix.patch").write_text("--- a/x\n+++ b/x\n@@\n")
    assert images(recipes).tag(web) != first  # the patch is part of what the tag names


@pytest.mark.parametrize("patches, message", [
    ("[missing.patch]", r"go_patches names files that are not in .*web: \['missing.patch'\]"),
    ("fix.patch", "go_patches must be a list of patch files"),
])
def test_bad_go_patches(recipes: Path, patches: str, message: str) -> None:
    (recipes / "web" / "recipe.yaml").write_text(f"base: debian\ngo_patches: {patches}\n")
    with pytest.raises(ConfigError, match=message):
        images(recipes).recipe("web")
