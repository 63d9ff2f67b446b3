"""The documented import path of the offline images: see :mod:`pytest_azchaos.stack.images`."""

from __future__ import annotations

from .stack.images import MODES, ImageSet, Recipe

__all__ = ["MODES", "ImageSet", "Recipe"]
