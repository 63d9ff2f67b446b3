"""Benchmark: how fast an AZ outage takes effect, and how fast the region is healthy again.

For each mode (power, freeze, network) and run:

- fault-to-effect: from the ``inject`` call until every container of the AZ is in the
  target state (exited / paused / off the regional network), as Docker reports it;
- the same with the reference a hand-rolled script would use: one ``docker kill``,
  ``docker pause`` or ``docker network disconnect`` command line per step, run in turn;
- heal-to-healthy: from the ``heal`` call until every member of the stack is ready again
  (LB targets, DB leader with a streaming synchronous standby, MinIO drives, links).

Prints figures and the ratio to the reference; asserts nothing. The target is an effect
within 0.5 s for the whole AZ in every mode.

    .venv/bin/python bench/fault_effect.py [--env environments/default.yaml] [--az c] [--runs 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from pytest_azchaos import Stack, load
from pytest_azchaos.faults import AZ_MODES, AzOutage
from pytest_azchaos.topology import REGIONAL

ROOT = Path(__file__).resolve().parents[1]


def in_effect(stack: Stack, az: str, mode: str) -> bool:
    """True once every container of ``az`` is in the state ``mode`` puts it in."""
    for member in stack.members(az=az):
        if mode == "power" and stack.backend.state(member.container) == "running":
            return False
        if mode == "freeze" and stack.backend.state(member.container) != "paused":
            return False
        if mode == "network" and stack.network(REGIONAL) in stack.backend.networks_of(member.container):
            return False
    return True


def until(check: Callable[[], bool], timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("not in effect in time")
        time.sleep(0.01)


def by_hand(stack: Stack, az: str, mode: str) -> None:
    """What a compose script does: the docker CLI, one command line per step."""
    names = [m.container for m in stack.members(az=az)]
    if mode == "power":
        subprocess.run(["docker", "kill", *names], check=True, capture_output=True)
    elif mode == "freeze":
        subprocess.run(["docker", "pause", *names], check=True, capture_output=True)
    else:
        for name in names:
            subprocess.run(["docker", "network", "disconnect", stack.network(REGIONAL), name], check=True,
                           capture_output=True)


def pids(stack: Stack, az: str) -> list[int]:
    return [int(stack.backend.client.api.inspect_container(m.container)["State"]["Pid"])  # type: ignore[attr-defined]
            for m in stack.members(az=az)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def timed(stack: Stack, az: str, mode: str, action: Callable[[], None]) -> tuple[float, float | None]:
    """Run ``action``; return (seconds until Docker reports the target state, seconds until every
    process of the AZ is gone — power only, seen from the host's process table)."""
    watched = pids(stack, az) if mode == "power" else []
    gone: list[float] = []

    def watch() -> None:
        until(lambda: not any(alive(pid) for pid in watched), timeout_s=30)
        gone.append(time.monotonic())

    watcher = threading.Thread(target=watch, daemon=True)
    t0 = time.monotonic()
    if watched:
        watcher.start()
    action()
    until(lambda: in_effect(stack, az, mode))
    effect = time.monotonic() - t0
    if watched:
        watcher.join()
    return effect, (gone[0] - t0 if gone else None)


def one_run(stack: Stack, az: str, mode: str) -> tuple[float, float, float, float | None]:
    """Return (effect, reference effect, heal-to-healthy, processes gone) in seconds."""
    fault = AzOutage(az, mode=mode)
    effect, gone = timed(stack, az, mode, lambda: fault.inject(stack))
    t1 = time.monotonic()
    fault.heal(stack)
    until(lambda: not stack.not_ready(stack.members_all))
    healthy = time.monotonic() - t1
    reference, _ = timed(stack, az, mode, lambda: by_hand(stack, az, mode))
    fault.heal(stack)
    until(lambda: not stack.not_ready(stack.members_all))
    return effect, reference, healthy, gone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", type=Path, default=ROOT / "environments" / "default.yaml")
    parser.add_argument("--az", default="c", help="the AZ to lose (a holds the DB primary at start)")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    owner = ExitStack()  # the stack goes at the end, or with this process if it is killed
    stack = owner.enter_context(Stack(load(args.env), progress=lambda message: None).owned())
    figures: dict[str, list[tuple[float, float, float, float | None]]] = {}
    try:
        count = len(stack.members(az=args.az))
        print(f"AZ {args.az}: {count} containers, {args.runs} runs per mode")
        for mode in AZ_MODES:
            for run in range(1, args.runs + 1):
                row = one_run(stack, args.az, mode)
                effect, reference, healthy, gone = row
                killed = f", every process gone after {gone:4.2f} s" if gone is not None else ""
                print(f"  {mode:8} run {run}: in effect {effect:5.2f} s (docker CLI {reference:5.2f} s){killed}, "
                      f"healthy {healthy:5.1f} s after heal", flush=True)
                figures.setdefault(mode, []).append(row)
    finally:
        owner.close()
    print(f"{'mode':8} {'in effect':>10} {'docker CLI':>11} {'ratio':>6} {'processes gone':>15} "
          f"{'healthy after heal':>19}   (medians)")
    for mode, rows in figures.items():
        effect, reference, healthy = (statistics.median(r[i] for r in rows) for i in range(3))  # type: ignore[type-var]
        gone = [r[3] for r in rows if r[3] is not None]
        first = statistics.median(gone) if gone else None
        takes = max(gone) if gone else max(r[0] for r in rows)
        verdict = "ok" if takes <= 0.5 else "over the 0.5 s target"
        shown = f"{first:14.2f}s" if first is not None else f"{'-':>15}"
        print(f"{mode:8} {effect:9.2f}s {reference:10.2f}s {effect / reference:6.2f} {shown} {healthy:18.1f}s   "
              f"{verdict}")
    print("power: Docker reports 'exited' only after tearing down each container's network and published "
          "ports; the processes are dead (the AZ is off) when they are gone from the process table.")


if __name__ == "__main__":
    main()
