"""Benchmark: time from `up` to ready and to `down`, and the memory of a running stack,
against `docker compose up --wait` of the same region (`azchaos export compose`).

Prints figures; asserts nothing. Images must be built (the first, warm-up run
builds them). `docker compose` comes from bench/install-compose.sh.

    .venv/bin/python bench/stack_start.py [--env environments/default.yaml] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

from pytest_azchaos import Stack, load
from pytest_azchaos.backend import LABEL_RUN
from pytest_azchaos.compose import export

ROOT = Path(__file__).resolve().parents[1]
QUIET = lambda message: None  # noqa: E731


def memory_mib(client: docker.DockerClient, run_id: str) -> float:
    """Sum the memory the run's containers use (without page cache), in MiB."""
    total = 0
    for container in client.containers.list(filters={"label": f"{LABEL_RUN}={run_id}"}):
        stats = container.stats(stream=False)["memory_stats"]
        total += stats.get("usage", 0) - stats.get("stats", {}).get("cache", 0)
    return total / 2**20


def measure_azchaos(env: Path, client: docker.DockerClient) -> tuple[float, float, float]:
    stack = Stack(load(env), progress=QUIET)
    t0 = time.monotonic()
    stack.up()
    ready = time.monotonic() - t0
    time.sleep(3)  # let the stack settle before measuring memory
    memory = memory_mib(client, stack.run_id)
    t1 = time.monotonic()
    stack.down()
    return ready, time.monotonic() - t1, memory


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


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--env", type=Path, default=ROOT / "environments" / "default.yaml")
    args = parser.parse_args()
    client = docker.from_env()
    Stack(load(args.env), progress=QUIET).up().down()  # warm-up: builds missing images
    ours = [measure_azchaos(args.env, client) for _ in range(args.runs)]
    ups, downs, memory = ([run[i] for run in ours] for i in range(3))
    count = len(Stack(load(args.env), backend=object()).members_all)  # type: ignore[arg-type]
    print(f"environment: {args.env.name}, runs: {args.runs}, {count} containers")
    print(f"azchaos up -> ready   median {statistics.median(ups):6.1f} s  (min {min(ups):.1f}, max {max(ups):.1f})")
    print(f"azchaos down          median {statistics.median(downs):6.1f} s")
    print(f"memory when ready     median {statistics.median(memory):6.0f} MiB")
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
