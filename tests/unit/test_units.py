from __future__ import annotations

import pytest

from pytest_azchaos.errors import ConfigError
from pytest_azchaos.units import parse_duration


@pytest.mark.parametrize(("value", "seconds"), [("500ms", 0.5), ("10s", 10), ("2m", 120), ("1h", 3600),
                                                (3, 3.0), (0.25, 0.25), ("1.5s", 1.5), ("7", 7.0)])
def test_parses(value: float | str, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["fast", "-1s", -1, True, "", "10 parsecs"])
def test_refuses(value: object) -> None:
    with pytest.raises(ConfigError, match="wait"):
        parse_duration(value, what="wait")  # type: ignore[arg-type]
