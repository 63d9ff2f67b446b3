"""The nemesis: faults that can be injected into a running stack and healed again."""

from __future__ import annotations

from .az import AZ_MODES, AzOutage
from .base import ActiveFault, Fault, Nemesis

__all__ = ["AZ_MODES", "ActiveFault", "AzOutage", "Fault", "Nemesis"]
