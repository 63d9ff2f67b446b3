"""A game-day scenario: the YAML file ``azchaos gameday`` runs, parsed and checked before anything runs.

A scenario is a list of steps, run in order::

    name: AZ power loss
    environment: default            # the stack to start when none is given (--run-id)
    steps:
      - traffic: {rate: 50/s, for: 60s, workload: example-app}   # in the background
      - wait: 5s
      - mark: fault
      - outage: {az: a, mode: power, for: 30s}                   # healed when its time is up
      - wait: 10s
      - expect: {failed_requests: {read: 0}, failover_time: 120s, since: fault}

Every value is checked here, then against the stack (AZs, links, targets) before the first step
runs: a bad scenario fails with its file, line and what is allowed, and nothing is injected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .checks import parse as parse_slos
from .errors import ConfigError
from .faults import AZ_MODES, TOXICS, AzOutage, Fault, InstanceFault, LinkToxic
from .faults.instance import ACTIONS, PRIMARY
from .faults.links import DIRECTIONS
from .traffic import MAX_RATE_PER_S
from .units import parse_duration

if TYPE_CHECKING:
    from .stack import Stack

WORKLOADS = ("read", "example-app")


class _Mapping(dict[str, Any]):
    """A YAML mapping that remembers its line and the line of each key."""

    line = 0
    lines: dict[str, int]


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        found = _Mapping((str(k), v) for k, v in super().construct_mapping(node, deep=True).items())
        found.line = node.start_mark.line + 1
        found.lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
        return found


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)


@dataclass(frozen=True)
class Step:
    """One step: ``kind`` (traffic, outage, toxic, instance, wait, heal, mark, expect) and its values."""

    kind: str
    line: int
    duration_s: float | None = None  # traffic, faults (None: until a heal step or the end), wait
    fault: Fault | None = None
    name: str | None = None  # a fault's id (for heal), a mark's name, the mark an expect counts since
    rate_per_s: float = 0.0
    workload: str = "read"
    slos: dict[str, Any] = field(default_factory=dict)
    steady: bool = True  # faults: wait for a steady stack first

    @property
    def title(self) -> str:
        """How the step reads in the live view and the report."""
        for_ = f" for {self.duration_s:g} s" if self.duration_s is not None and self.kind != "wait" else ""
        if self.fault is not None:
            return f"{self.fault.subject}{for_}"
        if self.kind == "traffic":
            return f"traffic {self.rate_per_s:g}/s {self.workload}{for_}"
        if self.kind == "wait":
            return f"wait {self.duration_s:g} s"
        if self.kind == "expect":
            since = f" since {self.name}" if self.name else ""
            return "expect " + ", ".join(f"{k}={v}" for k, v in self.slos.items()) + since
        return f"{self.kind} {self.name or 'all'}"


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario: where it came from, its name, the environment to start, its steps."""

    path: Path
    name: str
    environment: str
    steps: tuple[Step, ...]
    description: str = ""

    def where(self, step: Step) -> str:
        return f"{self.path}:{step.line}"


class ScenarioError(ConfigError):
    """A scenario that cannot run: the message starts with ``file:line:``."""


STEP_KINDS = ("traffic", "outage", "toxic", "instance", "wait", "heal", "mark", "expect")
TOP_KEYS = ("name", "description", "environment", "steps")


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; raise ScenarioError naming the file, the line and what is allowed."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, _Mapping):
        raise ScenarioError(f"{path}:1: expected a mapping with {', '.join(TOP_KEYS)}, found {type(data).__name__}")
    _known_keys(path, data, TOP_KEYS, "a scenario")
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ScenarioError(f"{path}:{data.lines.get('steps', data.line)}: 'steps' must be a non-empty list "
                            f"of steps ({', '.join(STEP_KINDS)})")
    parsed = tuple(_step(path, raw, data.lines.get("steps", data.line)) for raw in steps)
    _check_names(path, parsed)
    return Scenario(path, str(data.get("name") or path.stem), str(data.get("environment") or "default"), parsed,
                    str(data.get("description") or ""))


def _known_keys(path: Path, data: _Mapping, allowed: tuple[str, ...], what: str) -> None:
    for key in data:
        if key not in allowed:
            raise ScenarioError(f"{path}:{data.lines.get(str(key), data.line)}: unknown key {key!r} in {what}: "
                                f"expected {', '.join(allowed)}")


def _step(path: Path, raw: Any, after_line: int) -> Step:
    if not isinstance(raw, _Mapping) or len(raw) != 1:
        line = raw.line if isinstance(raw, _Mapping) else after_line
        raise ScenarioError(f"{path}:{line}: a step is a mapping with one key, the step's kind "
                            f"({', '.join(STEP_KINDS)}), e.g. '- wait: 10s'; found {raw!r}")
    kind, value = next(iter(raw.items()))
    line = raw.line
    if kind not in STEP_KINDS:
        raise ScenarioError(f"{path}:{line}: unknown step {kind!r}: expected one of {', '.join(STEP_KINDS)}")
    try:
        return _BUILDERS[kind](kind, line, value)
    except ConfigError as exc:
        if isinstance(exc, ScenarioError):
            raise
        raise ScenarioError(f"{path}:{line}: step {kind}: {exc}") from None


def _fields(kind: str, value: Any, allowed: tuple[str, ...], *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"expected a mapping of {', '.join(allowed)}, found {value!r}")
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}: expected {', '.join(allowed)}")
    missing = [k for k in required if k not in value]
    if missing:
        raise ConfigError(f"missing {', '.join(missing)} (it takes {', '.join(allowed)})")
    return dict(value)


def _duration(value: Any, what: str = "for") -> float | None:
    return None if value is None else parse_duration(value, what=what)


def _traffic(kind: str, line: int, value: Any) -> Step:
    fields = _fields(kind, value, ("rate", "for", "workload"), required=("rate",))
    workload = str(fields.get("workload", "read"))
    if workload not in WORKLOADS:
        raise ConfigError(f"unknown workload {workload!r}: expected one of {', '.join(WORKLOADS)}")
    return Step(kind, line, _duration(fields.get("for")), rate_per_s=_rate(fields["rate"]), workload=workload)


def _rate(value: Any) -> float:
    text = str(value).strip()
    number = text.removesuffix("/s").strip()
    try:
        rate = float(number)
    except ValueError:
        rate = -1.0
    if isinstance(value, bool) or not 0 < rate <= MAX_RATE_PER_S:
        raise ConfigError(f"rate: expected requests per second like 50 or '50/s' (at most {MAX_RATE_PER_S}), "
                          f"found {value!r}")
    return rate


FAULT_KEYS = ("for", "id", "steady")


def _fault_step(kind: str, line: int, fields: dict[str, Any], fault: Fault) -> Step:
    steady = fields.get("steady", True)
    if not isinstance(steady, bool):
        raise ConfigError(f"steady: expected true or false, found {steady!r}")
    name = fields.get("id")
    return Step(kind, line, _duration(fields.get("for")), fault=fault, name=None if name is None else str(name),
                steady=steady)


def _outage(kind: str, line: int, value: Any) -> Step:
    fields = _fields(kind, value, ("az", "mode", *FAULT_KEYS), required=("az",))
    mode = str(fields.get("mode", "power"))
    if mode not in AZ_MODES:
        raise ConfigError(f"unknown mode {mode!r}: expected one of {', '.join(AZ_MODES)}")
    return _fault_step(kind, line, fields, AzOutage(str(fields["az"]), mode=mode))


def _toxic(kind: str, line: int, value: Any) -> Step:
    if not isinstance(value, Mapping):
        raise ConfigError(f"expected a mapping of link, type and the toxic's attributes, found {value!r}")
    toxic_type = str(value.get("type", ""))
    if toxic_type not in TOXICS:
        raise ConfigError(f"unknown toxic type {toxic_type!r}: expected one of {', '.join(TOXICS)}")
    allowed = ("link", "type", *TOXICS[toxic_type], "toxicity", "direction", *FAULT_KEYS)
    fields = _fields(kind, value, allowed, required=("link",))
    attributes = tuple(sorted((k, _whole(k, v)) for k, v in fields.items() if k in TOXICS[toxic_type]))
    toxicity = fields.get("toxicity", 1.0)
    if isinstance(toxicity, bool) or not isinstance(toxicity, (int, float)) or not 0 <= toxicity <= 1:
        raise ConfigError(f"toxicity: expected a share of connections between 0 and 1, found {toxicity!r}")
    direction = str(fields.get("direction", "downstream"))
    if direction not in DIRECTIONS:
        raise ConfigError(f"unknown direction {direction!r}: expected one of {', '.join(DIRECTIONS)}")
    return _fault_step(kind, line, fields, LinkToxic(str(fields["link"]), toxic_type, attributes,
                                                     float(toxicity), direction))


def _whole(key: str, value: Any) -> int:
    """Toxiproxy takes whole numbers (ms, KB/s, bytes); a duration like '200ms' is taken in ms."""
    if isinstance(value, str) and key in ("latency", "jitter", "timeout", "delay"):
        return round(parse_duration(value, what=key) * 1000)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{key}: expected a whole number >= 0 (times in ms, e.g. 200 or '200ms'), found {value!r}")
    return value


def _instance(kind: str, line: int, value: Any) -> Step:
    fields = _fields(kind, value, ("action", "target", *FAULT_KEYS), required=("target",))
    action = str(fields.get("action", "kill"))
    if action not in ACTIONS:
        raise ConfigError(f"unknown action {action!r}: expected one of {', '.join(ACTIONS)}")
    return _fault_step(kind, line, fields, InstanceFault(str(fields["target"]), action))


def _wait(kind: str, line: int, value: Any) -> Step:
    return Step(kind, line, parse_duration(value, what="wait"))


def _heal(kind: str, line: int, value: Any) -> Step:
    name = None if value in (None, "all") else str(value)
    return Step(kind, line, name=name)


def _mark(kind: str, line: int, value: Any) -> Step:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"expected a name for this moment, e.g. '- mark: fault', found {value!r}")
    return Step(kind, line, name=value.strip())


def _expect(kind: str, line: int, value: Any) -> Step:
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f"expected SLO limits like {{p99: 2s, failed_requests: 0}} (and 'since: MARK'), "
                          f"found {value!r}")
    slos = {str(k): v for k, v in value.items() if k != "since"}
    if not slos:
        raise ConfigError("expected at least one SLO limit besides 'since'")
    parse_slos(slos)  # an unknown SLO or a bad limit, with what is accepted
    since = value.get("since")
    return Step(kind, line, name=None if since is None else str(since), slos=slos)


_BUILDERS = {"traffic": _traffic, "outage": _outage, "toxic": _toxic, "instance": _instance, "wait": _wait,
             "heal": _heal, "mark": _mark, "expect": _expect}


def _check_names(path: Path, steps: tuple[Step, ...]) -> None:
    """A heal names a fault id given before it; an expect names a mark set before it."""
    ids: set[str] = set()
    marks: set[str] = set()
    for step in steps:
        if step.fault is not None and step.name:
            ids.add(step.name)
        elif step.kind == "mark":
            marks.add(step.name or "")
        elif step.kind == "heal" and step.name and step.name not in ids:
            raise ScenarioError(f"{path}:{step.line}: heal {step.name!r}: no fault step before it has "
                                f"'id: {step.name}' (ids: {', '.join(sorted(ids)) or 'none'}; or 'heal: all')")
        elif step.kind == "expect" and step.name and step.name not in marks:
            raise ScenarioError(f"{path}:{step.line}: expect since {step.name!r}: no '- mark: {step.name}' "
                                f"step before it (marks: {', '.join(sorted(marks)) or 'none'})")


def check_against(scenario: Scenario, stack: Stack) -> None:
    """Check every fault against the stack (AZ, link, target) without touching it; ScenarioError if one
    does not fit."""
    for step in scenario.steps:
        if step.fault is None:
            continue
        try:
            if isinstance(step.fault, InstanceFault):
                _check_target(step.fault.target, stack)
            else:
                step.fault.validate(stack)
        except ConfigError as exc:
            raise ScenarioError(f"{scenario.where(step)}: step {step.kind}: {exc}") from None


def _check_target(target: str, stack: Stack) -> None:
    """As InstanceFault.validate, but without asking the DB who leads (the stack may not run yet)."""
    members = stack.members_all
    known = {m.alias for m in members} | {m.role for m in members}
    if any(m.role == "db" for m in members):
        known.add(PRIMARY)
    if target not in known:
        raise ConfigError(f"unknown target {target!r}: expected one of {', '.join(sorted(known))}")
