"""A recipe's go_patches, for real: the module comes from the Go module proxy, is patched, and
builds (as the MinIO recipe's two patches do); a patch that does not apply names its step."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pytest_azchaos.errors import ImageBuildError
from pytest_azchaos.stack.images import Recipe, _go_install

MODULE = "golang.org/x/example/hello@v0.0.0-20250915201037-7f05d217867b"  # a small main package
PATCH = "\n".join([  # what `diff -u` prints: Go indents with tabs, and context lines start with a space
    "--- a/hello.go",
    "+++ b/hello.go",
    "@@ -37,7 +37,7 @@",
    " }",
    " ",
    " var (",
    '-\tgreeting    = flag.String("g", "Hello", "Greet with `greeting`")',
    '+\tgreeting    = flag.String("g", "Patched", "Greet with `greeting`")',
    ' \treverseFlag = flag.Bool("r", false, "Greet in reverse")',
    " )",
    " ",
    "",
])


def recipe(tmp_path: Path, patch: str) -> Recipe:
    folder = tmp_path / "hello"
    folder.mkdir()
    (folder / "fix.patch").write_text(patch)
    (folder / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\n")
    (folder / "recipe.yaml").write_text(f"go_install: [{MODULE}]\ngo_patches: [fix.patch]\n")
    return Recipe.load(folder)


def test_a_patched_module_builds_with_the_patch(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    steps: list[str] = []
    _go_install(recipe(tmp_path, PATCH), bindir, steps.append)
    out = subprocess.run([str(bindir / "hello")], capture_output=True, text=True, check=True).stdout
    assert out.startswith("Patched, world"), out
    assert any("applying fix.patch" in step for step in steps)


def test_a_patch_that_does_not_apply_names_its_step(tmp_path: Path) -> None:
    with pytest.raises(ImageBuildError, match="git apply fix.patch"):
        _go_install(recipe(tmp_path, PATCH.replace('"Hello"', '"Bonjour"')), tmp_path, lambda m: None)
