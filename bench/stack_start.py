"""Benchmark: how long the minimal stack takes to come up and go down, with images built.

Prints figures; asserts nothing. The reference is `docker run` of the same
containers without readiness polling, measured in the same run, so the ratio
says what our orchestration (networks, health polling, LB start) costs.

    .venv/bin/python bench/stack_start.py [--runs 3] [--env environments/minimal.yaml]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import docker

from pytest_azchaos import Stack, load
from pytest_azchaos.images import ImageSet

ROOT = Path(__file__).resolve().parents[1]


def measure_stack(env: Path) -> tuple[float, float]:
    stack = Stack(load(env), progress=lambda m: None)
    t0 = time.monotonic()
    stack.up()
    ready = time.monotonic() - t0
    t1 = time.monotonic()
    stack.down()
    return ready, time.monotonic() - t1


def measure_reference(env: Path, client: docker.DockerClient) -> float:
    """Start the same app containers with plain `docker run` (no networks, no readiness)."""
    topo = load(env)
    images = ImageSet(topo.images_dir, client=client, progress=lambda m: None)
    app = topo.by_role("app")[0]
    ref = images.ensure(app.image)
    count = len(app.azs) * app.replicas_per_az
    t0 = time.monotonic()
    containers = [client.containers.run(ref, detach=True, labels={"azchaos.run": "bench-reference"})
                  for _ in range(count)]
    elapsed = time.monotonic() - t0
    for container in containers:
        container.remove(force=True)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--env", type=Path, default=ROOT / "environments" / "minimal.yaml")
    args = parser.parse_args()
    client = docker.from_env()
    Stack(load(args.env), progress=lambda m: None).up().down()  # warm-up: builds missing images
    ups, downs, refs = [], [], []
    for _ in range(args.runs):
        up, down = measure_stack(args.env)
        ups.append(up)
        downs.append(down)
        refs.append(measure_reference(args.env, client))
    print(f"environment: {args.env.name}, runs: {args.runs}")
    print(f"up to ready      median {statistics.median(ups):6.2f} s   (min {min(ups):.2f}, max {max(ups):.2f})")
    print(f"down             median {statistics.median(downs):6.2f} s")
    print(f"docker run apps  median {statistics.median(refs):6.2f} s   (reference: no networks, no readiness)")
    print(f"ratio up/reference      {statistics.median(ups) / statistics.median(refs):6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
