"""Auto scaling starts only for services that ask for it (replace_after); the real replacement is
tested against Docker in tests/integration/test_scaling.py."""

from __future__ import annotations

from pathlib import Path

from pytest_azchaos import Stack, load
from pytest_azchaos.stack.scaling import AutoScaling

ROOT = Path(__file__).resolve().parents[2]


def minimal(tmp_path: Path, extra: str = "") -> Stack:
    env = tmp_path / "env.yaml"
    text = (ROOT / "environments" / "minimal.yaml").read_text()
    env.write_text(f"images: {ROOT / 'environments' / 'images'}\n"
                   + text.replace("    health: /healthz\n", "    health: /healthz\n" + extra))
    return Stack(load(env), run_id="t", backend=object(), progress=lambda line: None)  # type: ignore[arg-type]


def test_off_by_default(tmp_path: Path) -> None:
    stack = minimal(tmp_path)
    assert stack.topology.service("app").options["replace_after"] is None
    assert AutoScaling.start_for(stack, {}) is None


def test_on_when_a_service_asks_for_it(tmp_path: Path) -> None:
    stack = minimal(tmp_path, "    replace_after: 2s\n")
    scaling = AutoScaling.start_for(stack, {})
    try:
        assert scaling is not None and stack.topology.service("app").options["replace_after"] == 2.0
    finally:
        if scaling is not None:
            scaling.stop()
