"""Fault types by name: how the command line builds faults, and how a fault is written down so
that another process (``azchaos heal``) can rebuild and heal it.

A fault type is a frozen dataclass implementing the Fault protocol. Other plugins add
theirs with the ``pytest_azchaos_add_fault_types(registry)`` hook, or, for the
command line, with an entry point in the ``azchaos.faults`` group that names a
function taking the registry::

    [project.entry-points."azchaos.faults"]
    disk = "my_plugin:add_fault_types"     # def add_fault_types(registry): registry.add("disk", DiskFull)
"""

from __future__ import annotations

import dataclasses
from importlib.metadata import entry_points
from typing import Any

from ..errors import ConfigError
from .az import AzOutage
from .base import Fault
from .instance import InstanceFault
from .links import LinkCut, LinkToxic
from .stress import Stress


class FaultRegistry:
    """Fault types by name."""

    def __init__(self) -> None:
        self._types: dict[str, type[Any]] = {}

    def add(self, name: str, fault_type: type[Any]) -> None:
        """Register ``fault_type`` (a dataclass implementing Fault) as ``name``."""
        if not dataclasses.is_dataclass(fault_type):
            raise ConfigError(f"fault type {name!r}: {fault_type.__name__} must be a dataclass")
        for method in ("validate", "inject", "heal"):
            if not callable(getattr(fault_type, method, None)):
                raise ConfigError(f"fault type {name!r}: {fault_type.__name__} has no {method}() method")
        self._types[name] = fault_type

    @property
    def names(self) -> list[str]:
        return sorted(self._types)

    def build(self, name: str, fields: dict[str, Any]) -> Fault:
        """Return a fault of type ``name`` with ``fields``; ConfigError for an unknown type or field."""
        fault_type = self._types.get(name)
        if fault_type is None:
            raise ConfigError(f"unknown fault type {name!r}: expected one of {', '.join(self.names)}")
        known = {f.name for f in dataclasses.fields(fault_type)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ConfigError(f"fault type {name!r} has no field {', '.join(unknown)}: "
                              f"expected {', '.join(sorted(known))}")
        try:
            fault: Fault = fault_type(**{k: _tuples(v) for k, v in fields.items()})
        except TypeError as exc:
            raise ConfigError(f"fault type {name!r}: {exc}") from None
        return fault

    def record(self, fault: Fault) -> dict[str, Any]:
        """Return ``{"type": name, "fields": {...}}``: what ``build`` takes to make the same fault again."""
        for name, fault_type in self._types.items():
            if type(fault) is fault_type:
                return {"type": name, "fields": dataclasses.asdict(fault)}  # type: ignore[call-overload]
        raise ConfigError(f"{type(fault).__name__} is not a registered fault type ({', '.join(self.names)})")


def _tuples(value: Any) -> Any:
    """JSON has lists where the frozen dataclasses keep tuples (e.g. a toxic's attributes)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def default_registry(*, plugins: bool = True) -> FaultRegistry:
    """Return a registry of the built-in fault types, plus those of installed ``azchaos.faults`` plugins."""
    registry = FaultRegistry()
    registry.add("outage", AzOutage)
    registry.add("instance", InstanceFault)
    registry.add("toxic", LinkToxic)
    registry.add("cut", LinkCut)
    registry.add("stress", Stress)
    if plugins:
        for entry in entry_points(group="azchaos.faults"):
            entry.load()(registry)
    return registry
