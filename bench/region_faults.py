"""Benchmark: how the default region itself rides through gray failures, partitions and heals.

Each scenario runs N times on one stack and prints figures; it asserts nothing.

- ``freeze``: every AZ in turn is frozen (paused) for 10 s under mixed traffic. Prints the failed
  reads and when the last one ended after the fault (the ejection window), and the p99 of reads.
- ``partition``: the DB primary's AZ is cut off for 25 s (a failover happens) and healed under
  writes. Prints the write outages after the heal: any write that failed more than 2 s after the
  heal is a second outage.
- ``heal``: an AZ loses power for 10 s; prints heal -> ready (the healed members' readiness) and
  heal -> steady (the steady state every fault waits for: every MinIO node sees every drive, ...).
- ``fence``: the DB primary's AZ is cut off while a client on each side commits a row every
  0.1 s on its own node (``synchronous_commit = local``: only being a writable primary counts).
  Prints when the old primary last took a write and the new one first did, after the cut; a
  margin below 0 is a split brain (two writable primaries at once).
- ``upload``: a 60 MB object goes up through the S3 endpoint (boto3, 10 MB parts) while an AZ is
  frozen; prints the time it took and whether the checksum matches.

    .venv/bin/python bench/region_faults.py freeze [--runs 2] [--env environments/default.yaml]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from pytest_azchaos import Experiment, Stack, load
from pytest_azchaos.readback import read_back
from pytest_azchaos.stack.model import Member
from pytest_azchaos.steady import wait_steady
from pytest_azchaos.traffic import FAILED, OK, Operation
from pytest_azchaos.workloads import example_app

ROOT = Path(__file__).resolve().parents[1]
READS = ("read", "get_object")


def leader_az(stack: Stack) -> str:
    leader = stack.status()["roles"]["db"]["leader"]
    return stack.member(leader).az


def failed_after(ops: list[Operation], t0: float) -> list[tuple[float, float, str]]:
    """(start, end, cause) relative to ``t0`` of every operation that did not succeed."""
    return [(op.scheduled - t0, op.end - t0, f"{op.kind}: {op.error or op.status}") for op in ops if op.outcome != OK]


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else (values[0] if values else 0.0)


def freeze(stack: Stack, az: str) -> dict[str, float]:
    experiment = Experiment(stack, read_back=read_back)
    with experiment.traffic(rate_per_s=30, workload=example_app()):
        experiment.wait("3s")
        fault = experiment.outage(az, mode="freeze")
        t0 = time.monotonic()
        experiment.wait("10s")
        fault.heal()
        experiment.wait("3s")
    experiment.finish()
    reads = [op for op in experiment.history.operations if op.kind in READS]
    failed = failed_after(reads, t0)
    for start, end, cause in failed[:5]:
        print(f"    failed read {start:+.1f} s .. {end:+.1f} s  {cause}")
    window = max((end for _, end, _ in failed), default=0.0)
    slow = p99([op.latency for op in reads])
    writes = [op for op in experiment.history.operations if op.kind not in READS and op.outcome == FAILED]
    print(f"  freeze {az}: {len(failed)} of {len(reads)} reads failed, last ended {window:+.1f} s; "
          f"read p99 {slow:.2f} s; {len(writes)} writes failed")
    return {"failed_reads": len(failed), "window": window, "p99": slow}


def partition(stack: Stack, az: str) -> dict[str, float]:
    experiment = Experiment(stack, read_back=read_back)
    with experiment.traffic(rate_per_s=20, workload=example_app(reads=1, writes=3, object_puts=0, object_gets=0)):
        experiment.wait("2s")
        fault = experiment.outage(az, mode="network")
        experiment.wait("25s")
        t_heal = time.monotonic()
        fault.heal()  # returns once the region is whole again
        experiment.wait("5s")
    experiment.finish()
    writes = [op for op in experiment.history.operations if op.kind == "write"]
    late = [(s, e, c) for s, e, c in failed_after(writes, t_heal) if s > 2.0]
    for start, _end, cause in late[:5]:
        print(f"    write failed after heal {start:+.1f} s  {cause}")
    print(f"  partition {az} healed: {len(late)} writes failed more than 2 s after the heal")
    return {"second_outage_writes": len(late)}


def local_write(stack: Stack, member: Member, side: str) -> float | None:
    """Commit one row on ``member`` itself; the node's clock at the insert, None if refused."""
    code, out = stack.sql(member, f"SET synchronous_commit = local; SET statement_timeout = '1s'; INSERT INTO "
                                  f"fencing (side) VALUES ('{side}') RETURNING extract(epoch FROM clock_timestamp())")
    words = out.split()  # psql exited 0 with nothing printed once, mid-failover
    return float(words[-1]) if code == 0 and words else None


def watchdog_kills(stack: Stack, container: str) -> int:
    return stack.backend.logs(container, tail=100_000).count("azchaos-watchdog: no keepalive")


def fence(stack: Stack, az: str) -> dict[str, float]:
    import threading

    leader = stack.status()["roles"]["db"]["leader"]
    old = stack.member(leader)
    new = next(m for m in stack.members(role="db") if m.alias != leader)
    stack.sql(old, "CREATE TABLE IF NOT EXISTS fencing (side text, at timestamptz)")
    accepted: dict[str, list[float]] = {"old": [], "new": []}
    stop = threading.Event()

    def keep_writing(member: Member, side: str) -> None:
        while not stop.is_set():
            at = local_write(stack, member, side)
            if at is not None:
                accepted[side].append(at)
            time.sleep(0.1)

    kills_before = watchdog_kills(stack, old.container)
    experiment = Experiment(stack, read_back=read_back)
    writers = [threading.Thread(target=keep_writing, args=(m, side), daemon=True)
               for m, side in ((old, "old"), (new, "new"))]
    fault = experiment.outage(old.az, mode="network")
    cut = time.time()  # the cut is in place once outage() returns
    for writer in writers:
        writer.start()
    deadline = time.monotonic() + 60
    while len(accepted["new"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    stop.set()
    for writer in writers:
        writer.join()
    # Who stopped the old primary: its Patroni demoting it, or the node's watchdog killing it.
    by_watchdog = watchdog_kills(stack, old.container) > kills_before
    fault.heal()
    experiment.finish()
    last_old, first_new = max(accepted["old"], default=cut), min(accepted["new"], default=float("inf"))
    margin = first_new - last_old
    print(f"  fence {old.alias} (AZ {old.az}): old last write {last_old - cut:+.1f} s, new {new.alias} first "
          f"{first_new - cut:+.1f} s, margin {margin:+.1f} s{'  SPLIT BRAIN' if margin <= 0 else ''}; "
          f"stopped by {'the watchdog' if by_watchdog else 'Patroni'}; load {os.getloadavg()[0]:.1f}")
    return {"old_last_s": last_old - cut, "new_first_s": first_new - cut, "margin_s": margin,
            "split": float(margin <= 0), "by_watchdog": float(by_watchdog)}


def heal(stack: Stack, az: str) -> dict[str, float]:
    experiment = Experiment(stack, read_back=read_back)
    fault = experiment.outage(az, mode="power")
    experiment.wait("10s")
    t0 = time.monotonic()
    fault.heal()  # heals, then waits until the healed members are ready again
    ready = time.monotonic() - t0
    wait_steady(stack, timeout_s=120)  # every node's view whole again: what the next fault waits for
    steady = time.monotonic() - t0
    experiment.finish()
    print(f"  power {az}: heal -> ready {ready:.1f} s, -> steady {steady:.1f} s")
    return {"heal_ready_s": ready, "heal_steady_s": steady}


def upload(stack: Stack, az: str) -> dict[str, float]:
    import boto3
    from boto3.s3.transfer import TransferConfig

    s3 = stack.endpoints()["s3"]
    client = boto3.client("s3", endpoint_url=s3["url"], aws_access_key_id=s3["access_key"],
                          aws_secret_access_key=s3["secret_key"], region_name="us-east-1")
    body = os.urandom(60 * 1024 * 1024)
    config = TransferConfig(multipart_threshold=10 * 1024 * 1024, multipart_chunksize=10 * 1024 * 1024)
    experiment = Experiment(stack, read_back=read_back)
    with experiment.outage(az, mode="freeze"):
        t0 = time.monotonic()
        import io
        client.upload_fileobj(io.BytesIO(body), s3["bucket"], "bench-60mb", Config=config)
        took = time.monotonic() - t0
    experiment.finish()
    got = client.get_object(Bucket=s3["bucket"], Key="bench-60mb")["Body"].read()
    intact = hashlib.sha256(got).digest() == hashlib.sha256(body).digest()
    print(f"  60 MB upload with {az} frozen: {took:.1f} s, intact: {intact}")
    return {"upload_s": took, "intact": float(intact)}


SCENARIOS: dict[str, Callable[[Stack, str], dict[str, float]]] = {
    "freeze": freeze, "partition": partition, "heal": heal, "upload": upload, "fence": fence}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--env", type=Path, default=ROOT / "environments" / "default.yaml")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--az", action="append", help="AZs to hit (default: every AZ; partition: the primary's)")
    args = parser.parse_args()
    owner = ExitStack()  # the stack goes at the end, or with this process if it is killed
    stack = owner.enter_context(Stack(load(args.env), progress=lambda message: None).owned())
    figures: dict[str, list[float]] = {}
    try:
        for run in range(1, args.runs + 1):
            primary_only = args.scenario in ("partition", "fence")
            for az in args.az or ([leader_az(stack)] if primary_only else stack.topology.azs):
                print(f"run {run}, AZ {az}: load average {os.getloadavg()[0]:.1f}", flush=True)
                for name, value in SCENARIOS[args.scenario](stack, az).items():
                    figures.setdefault(name, []).append(value)
    finally:
        owner.close()
    for name, values in figures.items():
        print(f"{name:22} median {statistics.median(values):7.2f}  min {min(values):7.2f}  max {max(values):7.2f}"
              f"  (n={len(values)})")


if __name__ == "__main__":
    main()
