"""Find the project's data folders (environments/, fixtures/) in a checkout or an install."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def data_root() -> Path:
    """Return the folder holding environments/ and fixtures/ (AZCHAOS_HOME overrides)."""
    override = os.environ.get("AZCHAOS_HOME")
    candidates = [Path(override)] if override else []
    candidates += [
        Path(__file__).resolve().parent.parent,  # a source checkout or editable install
        Path(sys.prefix) / "share" / "pytest-azchaos",  # a wheel install (data-files)
    ]
    for candidate in candidates:
        if (candidate / "environments").is_dir():
            return candidate
    return candidates[0]


def environment_file(name_or_path: str) -> Path:
    """Return the path of an environment: a file path, or the name of a bundled one."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        return path
    return data_root() / "environments" / f"{name_or_path}.yaml"


def fixture(relative: str) -> Path:
    """Return a file of fixtures/ (configuration mounted into the stack)."""
    return data_root() / "fixtures" / relative
