"""The versioned schema of report.json, and the one place that loads and checks a report file.

docs/reports.md explains each field; ``azchaos report --schema`` prints this JSON Schema.
A change that removes or renames a field, or changes its meaning, raises ``SCHEMA_VERSION``;
a new optional field does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from .errors import ConfigError

SCHEMA_VERSION = 1

_NUMBER_OR_NULL = {"type": ["number", "null"]}
_TEXT = {"type": "string"}

_SLO = {
    "type": "object",
    "required": ["name", "value", "limit", "passed", "verdict", "message", "unit", "shown", "shown_limit"],
    "properties": {
        "name": _TEXT, "value": _NUMBER_OR_NULL, "limit": _NUMBER_OR_NULL, "passed": {"type": "boolean"},
        "verdict": {"enum": ["pass", "fail"]}, "message": _TEXT, "unit": _TEXT, "shown": _TEXT,
        "shown_limit": _TEXT,
    },
}

_EVENT = {
    "type": "object",
    "required": ["t", "wall", "kind", "subject", "detail"],
    "properties": {"t": {"type": "number"}, "wall": {"type": "number"}, "kind": _TEXT, "subject": _TEXT,
                   "detail": _TEXT},
}

_FAULT = {
    "type": "object",
    "required": ["subject", "start", "end", "start_wall", "end_wall"],
    "properties": {"subject": _TEXT, "start": {"type": "number"}, "end": _NUMBER_OR_NULL,
                   "start_wall": {"type": "number"}, "end_wall": _NUMBER_OR_NULL},
}

_WINDOW = {
    "type": "object",
    "required": ["t", "counts", "p50_s", "p99_s", "max_s"],
    "properties": {
        "t": {"type": "number"},
        "counts": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["ok", "failed", "unknown"],
            "properties": {k: {"type": "integer", "minimum": 0} for k in ("ok", "failed", "unknown")}}},
        "p50_s": _NUMBER_OR_NULL, "p99_s": _NUMBER_OR_NULL, "max_s": _NUMBER_OR_NULL,
    },
}

_CHART = {
    "type": "object",
    "required": ["origin", "t0_wall", "window_s", "windows", "faults", "events"],
    "properties": {"origin": _TEXT, "t0_wall": {"type": "number"}, "window_s": {"type": "number"},
                   "windows": {"type": "array", "items": _WINDOW}, "faults": {"type": "array", "items": _FAULT},
                   "events": {"type": "array", "items": _EVENT}},
}

_ERROR = {
    "type": "object", "required": ["kind", "error", "count"],
    "properties": {"kind": _TEXT, "error": _TEXT, "count": {"type": "integer", "minimum": 1},
                   # optional: the LB's targets these went to, "app-a-1" or "app-b-1 > app-c-1" -> count
                   "upstreams": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}}},
}

VERDICTS = ("passed", "slo_broken", "not_steady", "failed")

_ATTEMPT: dict[str, Any] = {  # one run of a test
    "type": "object",
    "required": ["test", "verdict", "slos", "faults", "events", "timings", "errors", "chart"],
    "properties": {
        "test": _TEXT, "verdict": {"enum": list(VERDICTS)},
        "run_id": _TEXT,  # optional: the stack it ran on, one of "environments"
        "reason": _TEXT, "reasons": {"type": "array", "items": _TEXT},
        "xfail": _TEXT,  # optional: pytest expected the test to fail (its xfail marker's reason, may be "")
        "teardown_error": _TEXT,  # optional: an error in teardown after a verdict that was not passed
        "slos": {"type": "array", "items": _SLO},
        "faults": {"type": "array", "items": _FAULT},
        "events": {"type": "array", "items": _EVENT},
        "timings": {"type": "object", "additionalProperties": _NUMBER_OR_NULL},
        "errors": {"type": "array", "items": _ERROR},
        "chart": {"oneOf": [_CHART, {"type": "null"}]},
    },
}
# A test: its last attempt, and optionally the earlier ones of a test that a plugin ran again.
_TEST = {**_ATTEMPT, "properties": {**_ATTEMPT["properties"], "reruns": {"type": "array", "items": _ATTEMPT}}}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "pytest-azchaos report.json",
    "type": "object",
    "required": ["schema_version", "kind", "title", "created", "summary", "environment", "tests", "slos", "events"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "kind": {"enum": ["run", "gameday"]},
        "title": _TEXT,
        "created": {"type": "number"},
        "summary": {"type": "object", "required": ["tests", *VERDICTS],
                    "additionalProperties": {"type": "integer", "minimum": 0}},
        "environment": {"type": ["object", "null"]},
        # optional: every stack the run used (an ``azchaos_env`` marker starts more than one)
        "environments": {"type": "array", "items": {"type": "object", "required": ["run_id"]}},
        "tests": {"type": "array", "items": _TEST},
        # optional: why the run ended before its last test (summary.not_run: how many did not run)
        "stopped": _TEXT,
        # Flat lists kept from the report before version 1 (bench/repeat.py reads "slos").
        "slos": {"type": "array", "items": {"allOf": [_SLO, {"required": ["test"]}]}},
        "events": {"type": "array", "items": {"type": "object", "required": ["wall", "kind", "subject"]}},
    },
}


class ReportError(ConfigError):
    """A report file that cannot be read: missing, not JSON, or not of this schema version."""


def validate(data: Any, *, source: str = "report") -> dict[str, Any]:
    """Return ``data`` if it is a report of this schema version; raise ReportError saying where it is not.

    Example::

        validate(json.loads(Path("azchaos-report/report.json").read_text()))
    """
    if not isinstance(data, dict):
        raise ReportError(f"{source}: expected a JSON object (an azchaos report.json), found {type(data).__name__}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        found = "no schema_version (a report from before version 1)" if version is None else f"version {version!r}"
        raise ReportError(f"{source}: expected report schema version {SCHEMA_VERSION}, found {found}; "
                          f"re-run the tests with this pytest-azchaos to write a version {SCHEMA_VERSION} report")
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data))
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path) or " (top level)"
        raise ReportError(f"{source}: not a valid azchaos report: at ${where}: {error.message}")
    return data


def load(path: str | Path) -> dict[str, Any]:
    """Read and validate a report.json; raise ReportError (one line, no traceback) if it is unusable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file (a report.json is written to azchaos-report/ by a test run)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return validate(data, source=str(path))
