"""The nemesis: faults that can be injected into a running stack and healed again."""

from __future__ import annotations

from .az import AZ_MODES, AzOutage
from .base import ActiveFault, Combined, Fault, Nemesis
from .instance import InstanceFault
from .links import TOXICS, LinkCut, LinkToxic
from .stress import Stress

__all__ = ["AZ_MODES", "TOXICS", "ActiveFault", "AzOutage", "Combined", "Fault", "InstanceFault", "LinkCut",
           "LinkToxic", "Nemesis", "Stress"]
