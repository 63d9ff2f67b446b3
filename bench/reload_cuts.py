"""Benchmark: do LB reloads cut answers short? Answers in flight while the stack reloads the LB.

The stack reloads the LB (nginx) whenever targets change: each heal, restart and drain does it.
A reload must be invisible to clients, as registering a target is at an ALB. This sends GETs of
one 64 KiB object (the size ``example_app()`` uses) with several client threads through the LB
endpoint (the app) and the S3 endpoint, first without reloads (the reference), then while
another thread calls ``stack.reconfigure()`` every ``--every`` seconds. For each phase it prints
the answers, those cut short, other failures by cause, the reloads, and the LB's own word:
"open socket ... left in connection" (an old nginx worker exited with requests in flight: nginx
1.22's bug #2367, cut answers). Asserts nothing.

    .venv/bin/python bench/reload_cuts.py [--env environments/default.yaml | --run-id ID]
        [--seconds 40] [--every 0.3] [--threads 8] [--endpoint lb --endpoint s3]
"""

from __future__ import annotations

import argparse
import collections
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import boto3
import docker
from botocore.config import Config
from botocore.exceptions import IncompleteReadError, ResponseStreamingError

from pytest_azchaos import Stack
from pytest_azchaos.client import Client, ProtocolError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capacity import region, where

SIZE = 64 * 1024
LEFT_OPEN = "left in connection"  # nginx: "open socket #N left in connection M", then "aborting"


def app_getter(stack: Stack, key: str) -> Callable[[], Callable[[], str]]:
    """Per thread: a GET of the object through the LB endpoint (the example app), with the load
    generator's own client. Returns what happened: "ok", "cut short", "HTTP 503"..."""
    url = stack.lb_url
    answer = Client(url, timeout_s=10).send("PUT", f"/objects/{key}", b"x" * SIZE)
    assert answer.status == 200, f"PUT /objects/{key}: HTTP {answer.status}"

    def per_thread() -> Callable[[], str]:
        client = Client(url, timeout_s=10)

        def get() -> str:
            answer = client.send("GET", f"/objects/{key}")
            if answer.status != 200:
                return f"HTTP {answer.status}"
            return "ok" if len(answer.body) == SIZE else "cut short"
        return get
    return per_thread


def s3_getter(stack: Stack, key: str) -> Callable[[], Callable[[], str]]:
    """Per thread: a GetObject through the S3 endpoint (boto3, no retries; botocore checks the
    body against its Content-Length)."""
    s3 = stack.endpoints()["s3"]
    api = boto3.client("s3", endpoint_url=s3["url"], aws_access_key_id=s3["access_key"],
                       aws_secret_access_key=s3["secret_key"], region_name=s3["region"],
                       config=Config(retries={"max_attempts": 0}, max_pool_connections=64))
    api.put_object(Bucket=s3["bucket"], Key=key, Body=b"x" * SIZE)

    def per_thread() -> Callable[[], str]:
        def get() -> str:
            body = api.get_object(Bucket=s3["bucket"], Key=key)["Body"].read()
            return "ok" if len(body) == SIZE else "cut short"
        return get
    return per_thread


GETTERS = {"lb": app_getter, "s3": s3_getter}


def attempt(get: Callable[[], str]) -> str:
    """What one GET got: its outcome, "cut short" for an answer cut short, else the error's name."""
    try:
        return get()
    except ProtocolError as exc:  # the generator's client: a cut answer says how much came
        return "cut short" if exc.got is not None else type(exc).__name__
    except (IncompleteReadError, ResponseStreamingError):  # boto3: the body was cut short
        return "cut short"
    except Exception as exc:  # what a client saw is the figure
        return type(exc).__name__


def phase(stack: Stack, lb: docker.models.containers.Container, per_thread: Callable[[], Callable[[], str]],
          *, threads: int, seconds: float, every: float) -> tuple[collections.Counter[str], int, int]:
    """GET for ``seconds`` with ``threads`` threads, reloading the LB every ``every`` s (0: never).
    Returns what happened to the GETs, the reloads, and nginx's "left in connection" alerts."""
    outcomes: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    since = int(time.time()) - 1
    stop = time.monotonic() + seconds
    reloads = 0

    def getting() -> None:
        get = per_thread()
        while time.monotonic() < stop:
            outcome = attempt(get)
            with lock:
                outcomes[outcome] += 1

    def reloading() -> None:
        nonlocal reloads
        while time.monotonic() < stop:
            stack.reconfigure()
            reloads += 1
            time.sleep(every)

    workers = [threading.Thread(target=getting) for _ in range(threads)]
    if every > 0:
        workers.append(threading.Thread(target=reloading))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    time.sleep(1)  # the old workers' last words reach the log
    log = lb.logs(since=since).decode(errors="replace")
    return outcomes, reloads, sum(1 for line in log.splitlines() if LEFT_OPEN in line)


def report(endpoint: str, label: str, outcomes: collections.Counter[str], reloads: int, left: int) -> None:
    total = sum(outcomes.values())
    cut = outcomes.pop("cut short", 0)
    ok = outcomes.pop("ok", 0)
    other = ", ".join(f"{n}x {what}" for what, n in outcomes.most_common()) or "none"
    per = f"{100 * cut / reloads:5.1f}" if reloads else "    -"
    print(f"{endpoint:<3} {label:<16} {total:>7} {ok:>7} {cut:>5} {per:>13} {reloads:>7} {left:>11}   {other}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    where(parser)
    parser.add_argument("--seconds", type=float, default=40, help="length of each phase")
    parser.add_argument("--every", type=float, default=0.3, help="seconds between reloads")
    parser.add_argument("--threads", type=int, default=8, help="client threads")
    parser.add_argument("--endpoint", action="append", choices=sorted(GETTERS),
                        help="where to GET (repeatable; default: lb and s3)")
    args = parser.parse_args(argv)
    if args.every <= 0 or args.seconds <= 0 or args.threads <= 0:
        parser.error("--seconds, --every and --threads must be positive")
    endpoints = args.endpoint or sorted(GETTERS)
    with region(args, progress=print) as stack:
        container = docker.from_env().containers.get(stack.members(role="lb")[0].container)
        version = container.exec_run(["nginx", "-v"]).output.decode().strip()
        print(f"{args.threads} threads GET {SIZE // 1024} KiB for {args.seconds:g} s per phase; "
              f"reloads every {args.every:g} s; {version}")
        print(f"{'':<3} {'phase':<16} {'answers':>7} {'ok':>7} {'cut':>5} {'cut/100 rel.':>13} "
              f"{'reloads':>7} {'worker left':>11}   other")
        for endpoint in endpoints:
            per_thread = GETTERS[endpoint](stack, f"reload-cuts-{uuid.uuid4().hex[:8]}")
            for label, every in (("no reloads", 0.0), ("reloads", args.every)):
                outcomes, reloads, left = phase(stack, container, per_thread, threads=args.threads,
                                                seconds=args.seconds, every=every)
                report(endpoint, label, outcomes, reloads, left)
    return 0


if __name__ == "__main__":
    sys.exit(main())
