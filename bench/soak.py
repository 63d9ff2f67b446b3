"""Soak: traffic at a steady rate for minutes while the random nemesis injects faults.

Runs the example app's workload at ``--rate`` for ``--minutes`` under the seeded random nemesis
(pytest_azchaos/faults/schedule.py), after a warm-up without faults. Prints the errors per fault
window (from inject to heal), in the ``--grace`` seconds after each heal (recovery), and outside
them; the memory of this process and of each container after the warm-up and at the end; and any
fault still active at the end. Asserts nothing.

    .venv/bin/python bench/soak.py [--env environments/default.yaml | --run-id ID] [--rate 500]
        [--minutes 10] [--seed 1] [--warmup 30] [--grace 5]
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import docker

from pytest_azchaos import Stack, load
from pytest_azchaos.experiment import Experiment
from pytest_azchaos.readback import read_back
from pytest_azchaos.timeline import Event
from pytest_azchaos.traffic import OK, Operation
from pytest_azchaos.workloads import example_app

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capacity import QUIET, ROOT, Usage, usage


@dataclass(frozen=True)
class Window:
    subject: str
    start: float
    end: float  # the heal; +inf if never healed


def fault_windows(events: Sequence[Event]) -> list[Window]:
    """Pair each inject with the next heal of the same subject."""
    windows, open_ = [], {}
    for event in events:
        if event.kind == "inject":
            open_[event.subject] = event.mono
        elif event.kind == "heal" and event.subject in open_:
            windows.append(Window(event.subject, open_.pop(event.subject), event.mono))
    windows += [Window(subject, start, float("inf")) for subject, start in open_.items()]
    return sorted(windows, key=lambda w: w.start)


def overlaps(op: Operation, start: float, end: float) -> bool:
    """True if the operation was under way (from its scheduled time to its end) between start and end:
    a request sent just before a freeze that hangs in it belongs to the freeze."""
    return op.scheduled <= end and op.end >= start


def where(op: Operation, windows: Sequence[Window], grace_s: float) -> str:
    for window in windows:
        if overlaps(op, window.start, window.end):
            return f"during {window.subject}"
        if overlaps(op, window.end, window.end + grace_s):
            return f"after {window.subject}"
    return "outside"


def print_errors(ops: Sequence[Operation], windows: Sequence[Window], t0: float, grace_s: float) -> None:
    failed = [op for op in ops if op.outcome != OK]
    print(f"\n{len(ops)} requests, {len(failed)} failed or unknown")
    for window in windows:
        inside = [op for op in failed if where(op, [window], grace_s).startswith("during")]
        after = [op for op in failed if where(op, [window], grace_s).startswith("after")]
        causes = collections.Counter(op.error or op.outcome for op in inside + after).most_common(3)
        print(f"  +{window.start - t0:6.1f}s {window.subject:40s} {window.end - window.start:5.1f}s  "
              f"errors {len(inside):4d} during, {len(after):4d} in {grace_s:g}s after  "
              + ", ".join(f"{n}x {c}" for c, n in causes))
    outside = [op for op in failed if where(op, windows, grace_s) == "outside"]
    causes = collections.Counter(op.error or op.outcome for op in outside).most_common(5)
    print(f"  outside every fault window (and its {grace_s:g}s grace): {len(outside)} errors  "
          + ", ".join(f"{n}x {c}" for c, n in causes))
    for op in outside[:5]:
        print(f"    +{op.scheduled - t0:6.1f}s {op.kind} {op.error} {(op.detail or '')[:100]}")


def print_memory(start: Usage, end: Usage) -> None:
    print("\nmemory (MiB)            after warm-up      end   change")
    for name in sorted(end.memory_mib):
        before, after = start.memory_mib.get(name, float("nan")), end.memory_mib[name]
        change = 100 * (after - before) / before if before else float("nan")
        print(f"  {name:22s} {before:10.1f} {after:10.1f} {change:+7.1f} %")


def soak(stack: Stack, args: argparse.Namespace, client: docker.DockerClient) -> None:
    experiment = Experiment(stack, read_back=read_back)
    try:
        with experiment.traffic(rate_per_s=args.rate, workload=example_app(), timeout_s=10):
            time.sleep(args.warmup)
            gc.collect()
            warm = usage(client, stack.run_id)
            t0 = time.monotonic()
            print(f"warm-up done: {len(experiment.history)} requests, "
                  f"{len(experiment.history.failed())} failed; soak of {args.minutes:g} min, seed {args.seed}")
            with experiment.random_nemesis(seed=args.seed, duration=f"{args.minutes * 60}s",
                                           min_fault=f"{args.min_fault}s", max_fault=f"{args.max_fault}s"):
                time.sleep(args.minutes * 60)
            time.sleep(args.grace)
        gc.collect()
        end = usage(client, stack.run_id)
        left = [e.subject for e in experiment.nemesis.timeline.events if e.kind == "inject"]
        active = [w.subject for w in fault_windows(experiment.timeline.events) if w.end == float("inf")]
        ops = [op for op in experiment.history.operations if op.scheduled >= t0]
        print_errors(ops, fault_windows(experiment.timeline.events), t0, args.grace)
        print_memory(warm, end)
        grown = end.memory_mib["(load generator)"] - warm.memory_mib["(load generator)"]
        print(f"  the load generator grew {grown:.1f} MiB for {len(ops)} operations recorded since the warm-up "
              f"({grown * 2**20 / max(1, len(ops)):.0f} bytes each: the history it keeps)")
        print(f"\nfaults injected: {len(left)}; still active at the end: {', '.join(active) or 'none'}")
    finally:
        errors = experiment.finish()
        if errors:
            print("healing at the end failed:", *errors, sep="\n  ")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    where_ = parser.add_mutually_exclusive_group()
    where_.add_argument("--env", type=Path, default=ROOT / "environments" / "default.yaml")
    where_.add_argument("--run-id", help="soak a running stack (azchaos up) instead of starting one")
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=30, help="seconds of traffic before the first fault")
    parser.add_argument("--grace", type=float, default=5, help="seconds after a heal counted as its recovery")
    parser.add_argument("--min-fault", type=float, default=5)
    parser.add_argument("--max-fault", type=float, default=15)
    args = parser.parse_args(argv)
    client = docker.from_env()
    print(f"soak: {args.rate:g} req/s, load average {os.getloadavg()[0]:.2f}")
    if args.run_id:
        soak(Stack.attach(args.run_id, progress=QUIET), args, client)
    else:
        with Stack(load(args.env), progress=QUIET).owned() as stack:
            soak(stack, args, client)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
