"""pytest-azchaos: chaos-engineering tests of multi-AZ systems, as pytest functions.

Example::

    @pytest.mark.slo(failed_requests=0)
    def test_survives_losing_az_a(azchaos):
        with azchaos.traffic(rate_per_s=50):
            with azchaos.outage("a", mode="power"):
                azchaos.wait("10s")
"""

from __future__ import annotations

from .checks import SLOResult, evaluate, failed_requests
from .errors import (
    AzChaosError,
    ConfigError,
    EngineError,
    FaultError,
    ImageBuildError,
    NotSteady,
    SLOViolation,
    StackError,
)
from .experiment import Experiment
from .faults import ActiveFault, AzOutage, Combined, Fault, InstanceFault, LinkCut, LinkToxic, Nemesis
from .faults.schedule import RandomNemesis
from .history import History, Operation
from .stack import Stack
from .timeline import Event, Timeline
from .topology import Topology, load
from .traffic import Call, Request, Traffic

__version__ = "0.1.0"

__all__ = [
    "ActiveFault",
    "AzChaosError",
    "AzOutage",
    "Call",
    "Combined",
    "ConfigError",
    "EngineError",
    "Event",
    "Experiment",
    "Fault",
    "FaultError",
    "History",
    "ImageBuildError",
    "InstanceFault",
    "LinkCut",
    "LinkToxic",
    "Nemesis",
    "NotSteady",
    "Operation",
    "RandomNemesis",
    "Request",
    "SLOResult",
    "SLOViolation",
    "Stack",
    "StackError",
    "Timeline",
    "Topology",
    "Traffic",
    "evaluate",
    "failed_requests",
    "load",
]
