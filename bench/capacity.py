"""Benchmark: the capacity of a region — the highest rate it serves with no error, and what it
does past that rate.

The rate is ramped in steps, with no fault, until a step has errors (and ``--past`` steps more).
For each step it prints the rate asked and achieved, the errors by cause, the latency p50/p99
(from the scheduled time: stalls count), and the CPU of each container (docker stats) and of
this process. It reports the highest rate with 0 errors. With ``--overload R`` it then sends R
req/s for one step, drops to 10 % of the last good rate, and prints how the overload was
answered (503s, 502s, resets...) and how long after the drop the last error was seen.

``--nginx-only`` measures the reference: one bare nginx container serving its welcome page,
the ceiling of the load generator and the LB on this machine. Asserts nothing.

    .venv/bin/python bench/capacity.py [--env environments/default.yaml | --run-id ID | --nginx-only]
        [--workload example_app|root|items|objects] [--rates 100,200,400,...] [--seconds 10] [--past 1]
        [--overload 2000]
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

from pytest_azchaos import Stack, load
from pytest_azchaos.backend import LABEL_RUN
from pytest_azchaos.checks import percentile
from pytest_azchaos.traffic import OK, Operation, Request, Traffic
from pytest_azchaos.workloads import example_app

ROOT = Path(__file__).resolve().parents[1]
RATES = (100, 200, 300, 400, 500, 700, 1000, 1400, 2000, 3000, 5000)
QUIET = lambda message: None  # noqa: E731
WORKLOADS: dict[str, Callable[[], Sequence[Request]]] = {
    "example_app": example_app,
    "root": lambda: (Request("root", "GET", "/"),),
    "items": lambda: example_app(object_puts=0, object_gets=0),
    "objects": lambda: example_app(reads=0, writes=0),
}


# -- containers: CPU and memory from docker stats ---------------------------------------------------


@dataclass
class Usage:
    """CPU seconds used so far and memory in use (without page cache), per container name."""

    at: float
    cpu_s: dict[str, float] = field(default_factory=dict)
    memory_mib: dict[str, float] = field(default_factory=dict)


def _short(container: Any) -> str:
    role = container.labels.get("azchaos.role", "")
    return str(container.name).split("-", 2)[-1] if role != "bench" else "nginx"


def usage(client: docker.DockerClient, run_id: str) -> Usage:
    """Sample every container of ``run_id`` at once (one-shot stats, in parallel) and this process."""
    containers = client.containers.list(filters={"label": f"{LABEL_RUN}={run_id}"})

    def one(container: Any) -> tuple[str, dict[str, Any]]:
        return _short(container), client.api.stats(container.id, stream=False, one_shot=True)

    sample = Usage(time.monotonic())
    with concurrent.futures.ThreadPoolExecutor(max(1, len(containers))) as pool:
        for name, stats in pool.map(one, containers):
            sample.cpu_s[name] = stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
            memory = stats.get("memory_stats", {})
            cache = memory.get("stats", {}).get("cache", 0)
            sample.memory_mib[name] = (memory.get("usage", 0) - cache) / 2**20
    own = resource.getrusage(resource.RUSAGE_SELF)
    sample.cpu_s["(load generator)"] = own.ru_utime + own.ru_stime
    sample.memory_mib["(load generator)"] = rss_mib()
    return sample


def rss_mib() -> float:
    """This process's resident memory now (not its peak), in MiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_percent(before: Usage, after: Usage) -> dict[str, float]:
    wall = after.at - before.at
    return {name: 100 * (after.cpu_s[name] - before.cpu_s.get(name, 0)) / wall for name in after.cpu_s}


# -- steps ------------------------------------------------------------------------------------------


@dataclass
class Step:
    rate: float
    ops: list[Operation]
    seconds: float
    cpu: dict[str, float]

    @property
    def failed(self) -> list[Operation]:
        return [op for op in self.ops if op.outcome != OK]

    def causes(self) -> collections.Counter[str]:
        return collections.Counter(cause(op) for op in self.failed)

    def latency(self, q: float, kind: str | None = None) -> float:
        return percentile([op.latency for op in self.ops if op.outcome == OK and kind in (None, op.kind)], q)


def cause(op: Operation) -> str:
    """The error, and for a 503 who answered it: the LB at capacity, or the app (its dependency)."""
    name = op.error or op.outcome
    if op.status == 503:
        return f"{name} ({'LB: overloaded' if 'overloaded' in (op.detail or '') else (op.detail or '')[:60]})"
    return name


def run_step(url: str, workload: Sequence[Request], rate: float, seconds: float,
             sample: Callable[[], Usage]) -> Step:
    traffic = Traffic(url, rate_per_s=rate, workload=workload, timeout_s=10, max_in_flight=512)
    before = sample()
    with traffic:
        time.sleep(seconds)
    after = sample()  # includes the drain of requests in flight: what the step cost
    return Step(rate, traffic.history.operations, seconds, cpu_percent(before, after))


def print_step(step: Step) -> None:
    causes = ", ".join(f"{n}x {cause}" for cause, n in step.causes().most_common(4)) or "-"
    share = 100 * len(step.failed) / max(1, len(step.ops))
    print(f"{step.rate:7.0f}/s  achieved {len(step.ops) / step.seconds:7.0f}/s  errors {len(step.failed):5d} "
          f"({share:4.1f} %)  p50 {ms(step.latency(50))}  p99 {ms(step.latency(99))}  max {ms(step.latency(100))}")
    print(f"          causes: {causes}")
    kinds = sorted({op.kind for op in step.ops})
    if len(kinds) > 1:
        print("          p50/p99 by kind: " + "  ".join(
            f"{kind} {ms(step.latency(50, kind)).strip()}/{ms(step.latency(99, kind)).strip()}" for kind in kinds))
    busy = sorted(step.cpu.items(), key=lambda kv: -kv[1])
    print("          CPU %: " + "  ".join(f"{name} {pct:.0f}" for name, pct in busy if pct >= 0.5)
          + f"  | total {sum(step.cpu.values()):.0f} of 200")


def ms(seconds: float) -> str:
    return "    n/a" if seconds != seconds else f"{seconds * 1000:5.0f} ms"


def ramp(url: str, workload: Sequence[Request], rates: Sequence[float], *, seconds: float, past: int,
         sample: Callable[[], Usage]) -> list[Step]:
    """Run the steps in order until one has errors, then ``past`` more; return them all."""
    steps: list[Step] = []
    remaining = None
    for rate in rates:
        steps.append(run_step(url, workload, rate, seconds, sample))
        print_step(steps[-1])
        if steps[-1].failed and remaining is None:
            remaining = past
        elif remaining is not None:
            remaining -= 1
        if remaining == 0:
            break
        time.sleep(3)  # let queues drain before the next step
    return steps


def overload(url: str, workload: Sequence[Request], rate: float, low: float, *, seconds: float,
             sample: Callable[[], Usage]) -> None:
    """Send ``rate`` for ``seconds``, then ``low`` at once; print the answers and the recovery time."""
    print(f"\noverload: {rate:.0f}/s for {seconds:g} s, then {low:.0f}/s for 15 s")
    step = run_step(url, workload, rate, seconds, sample)
    print_step(step)
    statuses = collections.Counter(op.status or op.error for op in step.ops)
    print("          answers: " + ", ".join(f"{n}x {s}" for s, n in statuses.most_common()))
    retry_after = sum(1 for op in step.failed if op.status == 503)
    print(f"          503s: {retry_after}; 502s: {statuses.get(502, 0)}; without an answer: "
          f"{sum(1 for op in step.ops if op.status is None and op.outcome != OK)}")
    dropped = time.monotonic()
    tail = run_step(url, workload, low, 15, sample)
    late = [op.end - dropped for op in tail.failed]
    print(f"after the drop: {len(tail.failed)} errors in {len(tail.ops)} requests; "
          + (f"last error {max(late):.1f} s after the drop" if late else "none: recovered at once"))


# -- targets -----------------------------------------------------------------------------------------


def where(parser: argparse.ArgumentParser) -> argparse._MutuallyExclusiveGroup:
    """Add --env and --run-id, the region a benchmark measures; return their group (for more)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--env", type=Path, default=ROOT / "environments" / "default.yaml",
                       help="start a stack of this environment (removed at the end)")
    group.add_argument("--run-id", help="measure a running stack (azchaos up) instead of starting one")
    return group


@contextmanager
def region(args: argparse.Namespace, *, progress: Callable[[str], None] = QUIET) -> Iterator[Stack]:
    """The stack of --run-id, or one of --env started here and removed after."""
    if args.run_id:
        yield Stack.attach(args.run_id, progress=QUIET)
    else:
        with Stack(load(args.env), progress=progress).owned() as stack:
            yield stack


@contextmanager
def target(args: argparse.Namespace, client: docker.DockerClient) -> Iterator[tuple[str, str]]:
    """Yield (base URL, run id) of what to measure; a stack or nginx started here is removed after."""
    if args.nginx_only:
        sys.path.insert(0, str(ROOT / "bench"))
        from traffic_capacity import start_nginx

        container, url = start_nginx(client)
        try:
            yield url, container.labels[LABEL_RUN]  # type: ignore[attr-defined]
        finally:
            container.remove(force=True)  # type: ignore[attr-defined]
    else:
        with region(args) as stack:
            yield stack.lb_url, stack.run_id


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    where(parser).add_argument("--nginx-only", action="store_true", help="the reference: one bare nginx container")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default=None,
                        help="default: example_app on a stack, root with --nginx-only")
    parser.add_argument("--rates", default=",".join(map(str, RATES)), help="comma-separated req/s, in order")
    parser.add_argument("--seconds", type=float, default=10, help="length of each step")
    parser.add_argument("--past", type=int, default=1, help="steps to run after the first with errors")
    parser.add_argument("--overload", type=float, help="then this rate for one step, and the recovery")
    args = parser.parse_args(argv)
    args.workload = args.workload or ("root" if args.nginx_only else "example_app")
    args.rates = [float(r) for r in args.rates.split(",")]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    client = docker.from_env()
    with target(args, client) as (url, run_id):
        print(f"capacity of {'nginx alone' if args.nginx_only else run_id}, workload {args.workload}, "
              f"{args.seconds:g} s per step, load average {os.getloadavg()[0]:.2f}")
        time.sleep(2)
        workload = WORKLOADS[args.workload]()
        steps = ramp(url, workload, args.rates, seconds=args.seconds, past=args.past,
                     sample=lambda: usage(client, run_id))
        good = [s.rate for s in steps if not s.failed]
        print(f"\nhighest rate with 0 errors: {max(good):.0f}/s" if good else "\nno step without errors")
        if args.overload:
            time.sleep(3)
            overload(url, workload, args.overload, max(10, 0.1 * max(good or [100])), seconds=args.seconds,
                     sample=lambda: usage(client, run_id))
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
