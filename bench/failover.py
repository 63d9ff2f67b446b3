"""Benchmark: failover time when the DB primary's whole AZ loses power, under write traffic.

For each run: 20 writes/s through the load balancer, power off the AZ that holds
the Patroni leader, and measure with the ``failover_time`` check (fault -> first
write acknowledged after the new leader took over) and ``write_downtime``; then
heal, and check that no acknowledged write was lost. Prints figures; asserts nothing.

    .venv/bin/python bench/failover.py [--env environments/default.yaml] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from pytest_azchaos import Experiment, Stack, load
from pytest_azchaos.readback import read_back
from pytest_azchaos.workloads import example_app

ROOT = Path(__file__).resolve().parents[1]


def leader_az(stack: Stack) -> str:
    leader = stack.status()["roles"]["db"]["leader"]
    return stack.member(leader).az


def one_run(stack: Stack) -> tuple[float, float, float]:
    experiment = Experiment(stack, read_back=read_back)
    az = leader_az(stack)
    with experiment.traffic(rate_per_s=20, workload=example_app(reads=1, writes=3, object_puts=0, object_gets=0)):
        experiment.wait("2s")
        with experiment.outage(az, mode="power"):
            experiment.wait("30s")
    experiment.finish()
    results = {r.name: r for r in experiment.evaluate({"failover_time": "120s", "write_downtime": "120s",
                                                        "lost_writes": 0})}
    for r in results.values():
        print(f"  {r.message}")
    return results["failover_time"].value, results["write_downtime"].value, results["lost_writes"].value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", type=Path, default=ROOT / "environments" / "default.yaml")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with Stack(load(args.env), progress=lambda message: None).owned() as stack:
        figures = []
        for run in range(1, args.runs + 1):
            print(f"run {run}: power off the primary's AZ")
            figures.append(one_run(stack))
    failover = [f[0] for f in figures]
    print(f"failover_time   median {statistics.median(failover):5.1f} s  (min {min(failover):.1f}, "
          f"max {max(failover):.1f}; target: median <= 15 s, RDS Multi-AZ 60-120 s)")
    print(f"write_downtime  median {statistics.median(f[1] for f in figures):5.1f} s")
    print(f"lost_writes     total  {sum(f[2] for f in figures):5.0f}")


if __name__ == "__main__":
    main()
