"""Parse durations once, in one place: ``"120s"``, ``"500ms"``, ``"2m"`` or a number of seconds."""

from __future__ import annotations

import math
import re

from .errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SECONDS_PER_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
# A game day lasts hours, not weeks; beyond this a value is a typo, and far beyond it time.sleep()
# and time.ctime() raise OverflowError long after the fault was injected.
MAX_DURATION_S = 7 * 24 * 3600.0


def parse_duration(value: float | int | str, *, what: str = "duration") -> float:
    """Return ``value`` in seconds; accept a number (seconds) or "500ms", "10s", "2m", "1h".

    >>> parse_duration("500ms")
    0.5
    """
    if isinstance(value, bool):
        raise ConfigError(f"{what}: expected a duration like '10s' or '500ms', found {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ConfigError(
                f"{what}: expected a duration like '10s', '500ms' or '2m', found {value!r}"
            )
        seconds = float(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)]
    if not math.isfinite(seconds):
        raise ConfigError(f"{what}: a duration must be a finite number, found {value!r}")
    if seconds < 0:
        raise ConfigError(f"{what}: a duration cannot be negative, found {value!r}")
    if seconds > MAX_DURATION_S:
        raise ConfigError(f"{what}: at most {MAX_DURATION_S / 3600:.0f}h (7 days), found {value!r}")
    return seconds
