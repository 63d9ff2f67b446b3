"""The declared region, loaded from an environment file and validated (its SLOs too).

The engine's loader is :func:`pytest_azchaos.stack.topology.load`; this module is the documented
import path, and checks the environment's ``slo:`` with the SLO registry, which sits above the engine.
"""

from __future__ import annotations

from pathlib import Path

from .checks import parse
from .stack import topology as _engine
from .stack.model import REGIONAL, ServiceSpec, Topology
from .stack.topology import MAX_AZS, MAX_CONTAINERS, MAX_REPLICAS_PER_AZ, check_run_id

__all__ = ["MAX_AZS", "MAX_CONTAINERS", "MAX_REPLICAS_PER_AZ", "REGIONAL", "ServiceSpec", "Topology",
           "check_run_id", "load"]


def load(path: str | Path) -> Topology:
    """Load and validate an environment file, its default SLOs included.

    Example::

        topology = load("environments/minimal.yaml")
        topology.azs  # ('a', 'b')
    """
    return _engine.load(path, check_slo=parse)
