"""Find the bundled data: environments, image recipes, fixtures, the example app, the engine setup.

They are package data of ``pytest_azchaos``, in ``pytest_azchaos/data/``, found with importlib.resources,
so a wheel installed anywhere (a virtualenv, ``pip install --user``, a relocated prefix) carries them.

The files live in the package and a checkout's top-level ``environments``, ``fixtures``, ``examples/app``
and ``scripts/ensure-docker.sh`` are symlinks to them, not the reverse, because:

- what a build packs is then the real files: setuptools copies a symlinked file into the wheel, but
  how a symlink that points out of the package is packed varies by tool (sdist, editable, wheel);
- relative paths inside the data (a recipe's ``context: ../../../app``) mean the same thing in a
  checkout and in site-packages: ``Path.resolve()`` follows the symlink before it reads ``..``;
- people, docs and the Makefile keep their paths: ``--azchaos-env=environments/minimal.yaml``,
  ``fixtures/nginx``, ``examples/app``, ``environments/images/<recipe>/``.
"""

from __future__ import annotations

import atexit
import functools
import os
from contextlib import ExitStack
from importlib.resources import as_file, files
from pathlib import Path

from .errors import ConfigError

_EXTRACTED = ExitStack()  # a zipped install: the data is extracted once, removed at exit
atexit.register(_EXTRACTED.close)


@functools.cache
def data_root() -> Path:
    """Return the folder holding environments/, fixtures/, app/ and scripts/ (pytest_azchaos/data)."""
    root = files("pytest_azchaos") / "data"
    if isinstance(root, Path):  # installed as files, or a checkout
        return root
    try:
        return _EXTRACTED.enter_context(as_file(root))
    except OSError as exc:  # a directory can be extracted from a zip from Python 3.12 only
        raise ConfigError(f"cannot extract pytest-azchaos's bundled data from {root} ({exc}); "
                          "install the package unzipped ('pip install pytest-azchaos')") from None


def bundled_environments() -> list[str]:
    """Return the names of the bundled environments, e.g. ['custom-app', 'default', 'minimal']."""
    return sorted(p.stem for p in (data_root() / "environments").glob("*.yaml") if p.is_file())


def environment_file(name_or_path: str) -> Path:
    """Return the path of an environment: a file path, or the name of a bundled one."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        return path
    bundled = data_root() / "environments" / f"{name_or_path}.yaml"
    if not bundled.is_file():
        names = bundled_environments()
        choose = f"choose one of {names}" if names else f"none is installed in {bundled.parent} (reinstall?)"
        raise ConfigError(f"no bundled environment {name_or_path!r}: {choose}, "
                          "or give the path of an environment file (e.g. ./region.yaml)")
    return bundled


def recipes_dir() -> Path:
    """Return the folder of the bundled image recipes (environments/images/)."""
    return data_root() / "environments" / "images"


def fixture(relative: str) -> Path:
    """Return a file of fixtures/ (configuration mounted into the stack)."""
    return data_root() / "fixtures" / relative
