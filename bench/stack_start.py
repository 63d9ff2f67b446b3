"""Benchmark: time from `up` to ready and to `down`, and the memory of a running stack,
against `docker compose up --wait` of the same region (`azchaos export compose`).

Prints figures; asserts nothing. Images must be built (the first, warm-up run
builds them). `docker compose` comes from bench/install-compose.sh.

    .venv/bin/python bench/stack_start.py [--env environments/default.yaml] [--runs 3]

How repeatable a start is on a busy host: starts that failed, and how often a MinIO node met a
transient error while it initialized and retried (environments/images/minio/init-retry.patch;
upstream exits on some of them), beside the same load as bench/repeat.py:

    .venv/bin/python bench/stack_start.py --runs 20 --no-compose --host-load 1 --beside 'CMD'
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import docker
from repeat import (  # bench/ is on the path when this script runs
    add_load_options,
    beside,
    exit_on_sigterm,
    host_load,
    rounds,
)

from pytest_azchaos import Stack, load
from pytest_azchaos.backend import LABEL_RUN
from pytest_azchaos.compose import export
from pytest_azchaos.errors import StackError

ROOT = Path(__file__).resolve().parents[1]
QUIET = lambda message: None  # noqa: E731


def memory_mib(client: docker.DockerClient, run_id: str) -> float:
    """Sum the memory the run's containers use (without page cache), in MiB."""
    total = 0
    for container in client.containers.list(filters={"label": f"{LABEL_RUN}={run_id}"}):
        stats = container.stats(stream=False)["memory_stats"]
        total += stats.get("usage", 0) - stats.get("stats", {}).get("cache", 0)
    return total / 2**20


RETRIED = "Unable to initialize backend"  # MinIO's log line when a node retries (or gives up on) its start


def start_retries(stack: Stack) -> list[str]:
    """Why the stack's MinIO nodes retried their start: their "Unable to initialize backend: ...,
    retrying in ..." lines, each cut to the error."""
    found = []
    for member in stack.members(role="s3"):
        for line in stack.backend.logs(member.container, tail=2000).splitlines():
            if RETRIED in line:
                found.append(f"{member.alias}: {line[line.index(RETRIED):].split(', retrying in')[0]}")
    return found


def measure_azchaos(env: Path, client: docker.DockerClient) -> tuple[float, float, float, list[str]]:
    """(seconds to ready, seconds to down, MiB when ready, MinIO start retries); StackError if it failed."""
    stack = Stack(load(env), progress=QUIET)
    t0 = time.monotonic()
    with stack.owned():  # removed even if the start fails
        ready = time.monotonic() - t0
        time.sleep(3)  # let the stack settle before measuring memory
        memory = memory_mib(client, stack.run_id)
        retries = start_retries(stack)
        t1 = time.monotonic()
    return ready, time.monotonic() - t1, memory, retries


def compose_available() -> bool:
    return subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0


def measure_compose(env: Path, run: int) -> tuple[float, float]:
    stack = Stack(load(env), progress=QUIET)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compose.yaml"
        path.write_text(export(stack, stack.resolve_images()))
        cmd = ["docker", "compose", "-f", str(path), "-p", f"azchaos-bench-{run}"]
        t0 = time.monotonic()
        subprocess.run([*cmd, "up", "-d", "--wait", "--quiet-pull"], check=True, capture_output=True)
        ready = time.monotonic() - t0
        t1 = time.monotonic()
        subprocess.run([*cmd, "down", "-v", "-t", "0"], check=True, capture_output=True)
        return ready, time.monotonic() - t1


def measure_runs(env: Path, client: docker.DockerClient,
                 runs: int) -> tuple[list[tuple[float, float, float, list[str]]], list[str]]:
    """``runs`` starts: the figures of those that started, and why the others failed (one line each)."""
    ours, failed = [], []
    for run in range(1, runs + 1):
        try:
            ours.append(measure_azchaos(env, client))
            retried = "; ".join(ours[-1][3]) or "none"
            print(f"run {run}: ready in {ours[-1][0]:.1f} s; MinIO start retries: {retried}", flush=True)
        except StackError as exc:
            failed.append(str(exc).splitlines()[0])
            print(f"run {run}: FAILED: {failed[-1]}", flush=True)
    return ours, failed


def main() -> int:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--env", type=Path, default=ROOT / "environments" / "default.yaml")
    parser.add_argument("--no-compose", action="store_true", help="skip the docker compose reference")
    add_load_options(parser)
    args = parser.parse_args()
    client = docker.from_env()
    with Stack(load(args.env), progress=QUIET).owned():  # warm-up: builds missing images
        pass
    with tempfile.TemporaryDirectory() as logs, host_load(args.host_load, max_s=6 * 3600), \
            beside(args.beside, Path(logs), max_s=6 * 3600) as beside_logs:
        ours, failed = measure_runs(args.env, client, args.runs)
        beside_rounds = [rounds(log) for log in beside_logs]
    count = len(Stack(load(args.env), backend=object()).members_all)  # type: ignore[arg-type]
    print(f"environment: {args.env.name}, runs: {args.runs}, {count} containers")
    for command, (done, bad) in zip(args.beside, beside_rounds, strict=True):
        print(f"beside: {command!r}: {done} rounds, {bad} failed")
    print(f"failed starts         {len(failed)} of {args.runs}")
    for reason, times in Counter(failed).most_common():
        print(f"  {times}x {reason}")
    if not ours:
        return 1
    ups, downs, memory = [run[0] for run in ours], [run[1] for run in ours], [run[2] for run in ours]
    retries = [run[3] for run in ours]
    print(f"azchaos up -> ready   median {statistics.median(ups):6.1f} s  (min {min(ups):.1f}, max {max(ups):.1f})")
    print(f"azchaos down          median {statistics.median(downs):6.1f} s")
    print(f"memory when ready     median {statistics.median(memory):6.0f} MiB")
    print(f"MinIO start retries   {sum(map(len, retries))} in {sum(map(bool, retries))} of {len(ours)} starts")
    for reason, times in Counter(r.split(": ", 1)[1] for found in retries for r in found).most_common():
        print(f"  {times}x {reason}")
    if args.no_compose:
        return 0
    if not compose_available():
        print("docker compose: not installed (bench/install-compose.sh); no reference ratio")
        return 0
    theirs = [measure_compose(args.env, run) for run in range(args.runs)]
    c_ups, c_downs = [r[0] for r in theirs], [r[1] for r in theirs]
    print(f"compose up --wait     median {statistics.median(c_ups):6.1f} s  (healthchecks every 1 s)")
    print(f"compose down          median {statistics.median(c_downs):6.1f} s")
    print(f"ratio up azchaos/compose    {statistics.median(ups) / statistics.median(c_ups):6.2f}  (target <= 0.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
