from __future__ import annotations

import pytest

from pytest_azchaos.errors import ConfigError
from pytest_azchaos.units import parse_duration


@pytest.mark.parametrize(("value", "seconds"), [("500ms", 0.5), ("10s", 10.0), ("2m", 120.0), ("1h", 3600.0),
                                                (3, 3.0), (0.25, 0.25), ("1.5s", 1.5), ("7", 7.0), (" 2 s ", 2.0),
                                                (0, 0.0)])
def test_parses(value: float | str, seconds: float) -> None:
    result = parse_duration(value)
    assert result == seconds and isinstance(result, float)


@pytest.mark.parametrize("value", ["fast", "-1s", -1, -0.5, True, False, "", "10 parsecs", "1d", None])
def test_refuses(value: object) -> None:
    with pytest.raises(ConfigError, match="^wait: "):
        parse_duration(value, what="wait")  # type: ignore[arg-type]


def test_messages_say_what_was_expected() -> None:
    with pytest.raises(ConfigError, match=r"expected a duration like '10s', '500ms' or '2m', found 'fast'"):
        parse_duration("fast")
    with pytest.raises(ConfigError, match="a duration cannot be negative, found -1"):
        parse_duration(-1)


def test_refuses_nan() -> None:
    with pytest.raises(ConfigError):
        parse_duration(float("nan"))
