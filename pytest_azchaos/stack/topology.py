"""The declared region: AZs and services, loaded from an environment file and validated.

Nothing here touches Docker. :func:`load` turns a YAML file into a frozen
:class:`Topology`, or raises one :class:`ConfigError` that names the file, the
line and the fix. What each role accepts (its options, defaults, port and
placement) is declared by the role (:mod:`pytest_azchaos.stack.roles`); this
module only validates against those declarations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..units import parse_duration
from .model import REGIONAL, ServiceSpec, Topology, unknown
from .roles import DECLARED, ROLES

__all__ = ["MAX_AZS", "MAX_CONTAINERS", "MAX_REPLICAS_PER_AZ", "REGIONAL", "ServiceSpec", "Topology",
           "check_run_id", "load"]

#: validates the environment's default SLOs (name -> limit), raising ConfigError; the checks
#: sit above the engine, so the caller passes theirs in (pytest_azchaos.topology.load does)
SloCheck = Callable[[Mapping[str, Any]], object]
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
# Run ids end up in Docker object names and host names: azchaos-<run id>-<alias>.
_RUN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
# An image is a recipe name or a Docker reference: [registry[:port]/]path[:tag][@digest].
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?{_PATH_PART}(?:/{_PATH_PART})*(?::[\w][\w.-]{{0,127}})?"
    r"(?:@sha256:[0-9a-f]{64})?$"
)
# Upper limits: every replica is a container of this host, and a stack larger than these is a typo
# (replicas_per_az: 10000), not a test: AWS puts a few targets per AZ behind an ALB, and three AZs
# are the common region. A stack that large would take the host down before any fault.
MAX_AZS = 6
MAX_REPLICAS_PER_AZ = 16
MAX_CONTAINERS = 120
_TOP_KEYS = {"name", "azs", "services", "slo", "images", "steady"}
_SERVICE_KEYS = {"role", "image", "replicas_per_az", "azs", "port", "health", "environment", "command"}
class _Node(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the line of each key."""

    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Node:
    first: dict[str, int] = {}
    for key, _ in node.value:
        name, line = str(key.value), key.start_mark.line + 1
        if name in first:  # YAML would silently keep the last one
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {name!r} (first on line {first[name]}, again on line {line})",
                key.start_mark)
        first[name] = line
    result = _Node(loader.construct_mapping(node, deep=True))
    result.line = node.start_mark.line + 1
    result.key_lines = {
        str(key.value): key.start_mark.line + 1 for key, _ in node.value
    }
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Source:
    """Where a value came from, to make errors say file:line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, node: _Node | None, key: str | None, message: str) -> ConfigError:
        line = 0
        if node is not None:
            line = node.key_lines.get(key, node.line) if key else node.line
        where = f"{self.path}:{line}" if line else str(self.path)
        return ConfigError(f"{where}: {message}")


def load(path: str | Path, *, check_slo: SloCheck | None = None) -> Topology:
    """Load and validate an environment file (and its ``slo:`` with ``check_slo``).

    Example::

        topology = load("environments/minimal.yaml")
        topology.azs  # ('a', 'b')
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: environment file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read environment file: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return _topology(data, _Source(path), check_slo)


def _topology(data: Any, src: _Source, check_slo: SloCheck | None) -> Topology:
    if not isinstance(data, _Node):
        raise src.error(None, None, "expected a mapping with 'azs' and 'services' at the top")
    _check_keys(data, _TOP_KEYS, src, "top level")
    azs = _azs(data, src)
    raw_services = data.get("services")
    if not isinstance(raw_services, _Node) or not raw_services:
        raise src.error(data, "services", "'services' must be a mapping of service names")
    for name, spec in raw_services.items():
        if not isinstance(spec, _Node):
            raise src.error(raw_services, str(name), f"service {name!r} must be a mapping with a 'role' and an 'image'")
    roles = {str(name): _role(str(name), spec, src) for name, spec in raw_services.items()}
    services = tuple(
        _service(str(name), spec, azs, src, roles) for name, spec in raw_services.items()
    )
    _check_counts(services, raw_services, src)
    _check_size(services, data, src)
    slo = _slo(data, src, check_slo)
    images = data.get("images", "images")
    return Topology(
        name=str(data.get("name") or src.path.stem),
        path=src.path.resolve(),
        azs=azs,
        services=services,
        slo=dict(slo),
        steady=_steady(data, src),
        images_dir=(src.path.parent / str(images)).resolve(),
    )


def _steady(data: _Node, src: _Source) -> dict[str, Any]:
    steady = data.get("steady")
    if steady is None:
        return {}
    if not isinstance(steady, _Node):
        raise src.error(data, "steady", "'steady' must be a mapping like {timeout: 60s, check: true}")
    _check_keys(steady, {"timeout", "check"}, src, "steady")
    if "timeout" in steady:
        try:
            parse_duration(steady["timeout"], what="steady timeout")
        except ConfigError as exc:
            raise src.error(steady, "timeout", str(exc)) from None
    return dict(steady)


def _check_size(services: tuple[ServiceSpec, ...], data: _Node, src: _Source) -> None:
    containers = sum(s.replicas_per_az * max(1, len(s.azs)) for s in services)
    if containers > MAX_CONTAINERS:
        raise src.error(data, "services", f"this region would have {containers} containers; at most "
                                          f"{MAX_CONTAINERS} run on one host (lower replicas_per_az)")


def _slo(data: _Node, src: _Source, check_slo: SloCheck | None) -> Mapping[str, Any]:
    """Validate the environment's default SLOs now, not after the traffic of the first test ran."""
    slo = data.get("slo")
    if slo is None:
        return {}
    if not isinstance(slo, _Node):
        raise src.error(data, "slo", "'slo' must be a mapping like {failed_requests: 0}")
    for name, limit in slo.items():
        try:
            if check_slo is not None:
                check_slo({name: limit})
        except ConfigError as exc:
            raise src.error(slo, str(name), f"slo: {exc}") from None
    return slo


def check_run_id(run_id: str) -> str:
    """Return ``run_id`` if it can name Docker objects, else raise a ConfigError saying the format."""
    if not _RUN_ID.match(run_id):
        raise ConfigError(f"run id {run_id!r}: expected 1 to 32 lowercase letters, digits or '-', "
                          "starting with a letter or digit (e.g. 3f2a9c1d)")
    return run_id


def _check_keys(node: _Node, allowed: set[str], src: _Source, where: str) -> None:
    for key in node:
        if key not in allowed:
            raise src.error(node, str(key), unknown(f"key in {where}", key, sorted(allowed)))


def _azs(data: _Node, src: _Source) -> tuple[str, ...]:
    azs = data.get("azs")
    if not isinstance(azs, list) or not azs:
        raise src.error(data, "azs", "'azs' must be a non-empty list of AZ names, e.g. [a, b, c]")
    names = tuple(str(az) for az in azs)
    for az in names:
        if not _NAME.match(az):
            raise src.error(data, "azs", f"AZ name {az!r} must be lowercase letters/digits")
    if len(set(names)) != len(names):
        raise src.error(data, "azs", f"AZ names must be unique, found {list(names)}")
    if len(names) > MAX_AZS:
        raise src.error(data, "azs", f"at most {MAX_AZS} AZs (AWS regions have 3 to 6), found {len(names)}")
    return names


def _role(name: str, spec: Any, src: _Source) -> str:
    if not isinstance(spec, _Node):
        raise src.error(None, None, f"service {name!r} must be a mapping")
    if not _NAME.match(name):
        raise src.error(spec, None, f"service name {name!r} must be lowercase letters/digits/-")
    role = spec.get("role")
    if role not in DECLARED:
        raise src.error(spec, "role", unknown("role", role, list(DECLARED)))
    return str(role)


def _service(name: str, spec: _Node, azs: tuple[str, ...], src: _Source, roles: dict[str, str]) -> ServiceSpec:
    role = ROLES[roles[name]]
    _check_keys(spec, _SERVICE_KEYS | set(role.options), src, f"service {name!r} (role {role.name})")
    image = spec.get("image")
    if not isinstance(image, str) or not image:
        raise src.error(spec, "image", f"service {name!r} needs an 'image' (a recipe or image name)")
    if not _IMAGE.match(image):
        raise src.error(spec, "image", f"service {name!r}: image {image!r} is neither a recipe name nor a Docker "
                                       "image reference like 'nginx', 'nginx:1.27' or 'registry:5000/team/app:v2'")
    service = ServiceSpec(
        name=name,
        role=role.name,
        image=image,
        azs=_placement(name, spec, role.name, azs, src),
        replicas_per_az=_positive_int(spec, "replicas_per_az", 1, src, most=MAX_REPLICAS_PER_AZ),
        port=_port(spec, src, default=role.default_port),
        health_path=_health(spec, src),
        environment=_environment(spec, src),
        command=_command(spec, src),
        options=_options(name, spec, src, roles),
        source=f"{src.path}:{spec.key_lines.get('image', spec.line)}",
    )
    problem = role.check(service)
    if problem:  # "key: message", the key being the option to point at
        key, _, message = problem.partition(": ")
        raise src.error(spec, key if key in spec.key_lines else None, f"service {name!r}: {message}")
    return service


def _options(name: str, spec: _Node, src: _Source, roles: dict[str, str]) -> dict[str, Any]:
    """Validate the role's own keys by the type of their default; durations become seconds; a
    reference to another service is checked, and defaults to the only service of that role."""
    role = ROLES[roles[name]]
    options: dict[str, Any] = {}
    for key, default in role.options.items():
        value = spec.get(key, default)
        if key in role.references:
            value = _reference(name, spec, key, role.references[key], src, roles)
        elif isinstance(default, bool):
            value = _bool(spec, key, default, src)
        elif isinstance(default, int):
            value = _positive_int(spec, key, default, src, most=role.limits.get(key, 64))
        elif key in role.durations and value is not None:
            value = _duration(spec, key, default, src)
        elif value is not None and not isinstance(value, (str, int)):
            raise src.error(spec, key, f"{key!r} must be a name or a number, found {value!r}")
        options[key] = value
    return options


def _reference(name: str, spec: _Node, key: str, role: str, src: _Source, roles: dict[str, str]) -> str | None:
    """The service ``key`` names (which must have ``role``); by default the only one of that role."""
    candidates = [service for service, r in roles.items() if role in (r, *ROLES[r].provides)]
    named = spec.get(key)
    if named is None and len(candidates) == 1:
        return candidates[0]  # the only one: no need to name it
    if named is None and key in ROLES[roles[name]].required:
        raise src.error(spec, None, f"service {name!r} needs a service of role {role} ({key!r})")
    if named is not None and named not in candidates:
        raise src.error(spec, key, unknown(f"{role} service", named, candidates))
    return None if named is None else str(named)


def _placement(
    name: str, spec: _Node, role: str, azs: tuple[str, ...], src: _Source
) -> tuple[str, ...]:
    if ROLES[role].regional:
        if "azs" in spec:
            raise src.error(spec, "azs", f"service {name!r}: a {role} service is regional (one for the whole region)")
        return ()
    placed = spec.get("azs", list(ROLES[role].default_azs(azs)))
    if not isinstance(placed, list) or not placed:
        raise src.error(spec, "azs", "'azs' must be a non-empty list of AZ names")
    for az in placed:
        if az not in azs:
            raise src.error(spec, "azs", unknown("AZ", az, list(azs)))
    return tuple(str(az) for az in placed)


def _positive_int(spec: _Node, key: str, default: int, src: _Source, *, most: int = 64) -> int:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        why = " (each one is a container on this host)" if key == "replicas_per_az" else ""
        raise src.error(spec, key, f"{key!r} must be a whole number from 1 to {most}{why}, found {value!r}")
    return value


def _port(spec: _Node, src: _Source, *, default: int) -> int:
    value = spec.get("port", default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise src.error(spec, "port", f"'port' must be a TCP port 1-65535, found {value!r}")
    return value


def _health(spec: _Node, src: _Source) -> str:
    value = spec.get("health", "/healthz")
    if not isinstance(value, str) or not value.startswith("/"):
        raise src.error(spec, "health", f"'health' must be an HTTP path like /healthz, found {value!r}")
    return value


def _environment(spec: _Node, src: _Source) -> tuple[tuple[str, str], ...]:
    value = spec.get("environment") or {}
    if not isinstance(value, Mapping):
        raise src.error(spec, "environment", "'environment' must be a mapping of NAME: value")
    return tuple((str(k), str(v)) for k, v in value.items())


def _command(spec: _Node, src: _Source) -> tuple[str, ...]:
    value = spec.get("command") or []
    if not isinstance(value, list):
        raise src.error(spec, "command", f"'command' must be a list, e.g. [python3, app.py], found {value!r}")
    return tuple(str(word) for word in value)


def _bool(spec: _Node, key: str, default: bool, src: _Source) -> bool:
    value = spec.get(key, default)
    if not isinstance(value, bool):
        raise src.error(spec, key, f"{key!r} must be true or false, found {value!r}")
    return value


def _duration(spec: _Node, key: str, default: str, src: _Source) -> float:
    try:
        return parse_duration(spec.get(key, default), what=key)
    except ConfigError as exc:
        raise src.error(spec, key, str(exc)) from None


def _check_counts(services: tuple[ServiceSpec, ...], raw: _Node, src: _Source) -> None:
    """At most as many services of a role as the role supports."""
    for name, role in ROLES.items():
        of_role = [s.name for s in services if s.role == name]
        if role.most_services is not None and len(of_role) > role.most_services:
            raise src.error(raw[of_role[role.most_services]], None,
                            f"at most {role.most_services} {name} service(s) per region")
