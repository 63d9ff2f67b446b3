"""Benchmark: the open-loop load generator's capacity and accuracy, against a reference.

One nginx container (the stack's nginx image, serving its welcome page, published on
127.0.0.1 only) is driven at the same constant rates by

- our generator (pytest_azchaos.traffic.Traffic), and
- vegeta, a constant-rate open-loop generator in Go (bench/install-reference.sh),

and for each rate the script prints: requested vs achieved rate, our scheduling lag
(start - scheduled) p99 and max, and the latency percentiles of both side by side, with
the ratio of the p99s. With --profile it also prints where our generator's time goes.
It asserts nothing.

    .venv/bin/python bench/traffic_capacity.py [--rates 500,1000,2000,5000] [--seconds 10] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import pstats
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import docker

from pytest_azchaos.backend import LABEL_RUN
from pytest_azchaos.checks import percentile
from pytest_azchaos.images import ImageSet
from pytest_azchaos.traffic import OK, Client, Traffic

ROOT = Path(__file__).resolve().parents[1]
QS = (50, 90, 99, 99.9, 100)


def start_nginx(client: docker.DockerClient) -> tuple[object, str]:
    """Start nginx without access logs (they would cost more than serving), on 127.0.0.1 only."""
    image = ImageSet(ROOT / "environments" / "images", mode="auto", progress=print).ensure("nginx")
    command = ["sh", "-c", "sed -i 's|access_log [^;]*;|access_log off;|' /etc/nginx/nginx.conf "
               "&& exec nginx -g 'daemon off;'"]
    container = client.containers.run(
        image, command, entrypoint=[], detach=True, ports={"80/tcp": ("127.0.0.1", None)},
        labels={LABEL_RUN: f"bench-{uuid.uuid4().hex[:8]}", "azchaos.role": "bench"}, name=None,
    )
    for _ in range(100):
        container.reload()
        bindings = container.attrs["NetworkSettings"]["Ports"].get("80/tcp")
        if bindings:
            url = f"http://127.0.0.1:{bindings[0]['HostPort']}"
            if _answers(url):
                return container, url
        time.sleep(0.1)
    raise RuntimeError("nginx did not answer")


def _answers(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def ours(url: str, rate: int, seconds: float, profile: bool) -> dict[str, float]:
    traffic = Traffic(url, rate_per_s=rate, timeout_s=5, max_in_flight=64)
    profilers = _profile_new_threads() if profile else []
    with traffic:
        time.sleep(seconds)
    threading.setprofile(None)  # type: ignore[arg-type,unused-ignore]
    if profilers:
        _print_profile(profilers)
    ops = traffic.history.operations
    done = [op for op in ops if op.outcome == OK]
    figures = {"achieved": len(ops) / seconds, "ok": len(done) / max(1, len(ops))}
    figures.update({"lag_p99": percentile([op.lag for op in ops], 99), "lag_max": max(op.lag for op in ops)})
    figures.update({f"p{q:g}": percentile([op.latency for op in done], q) for q in QS})
    return figures


def _profile_new_threads() -> list[cProfile.Profile]:
    """Profile every thread started from now on (the scheduler and the workers), each on its own."""
    profilers: list[cProfile.Profile] = []

    def start(frame: object, event: str, arg: object) -> None:
        sys.setprofile(None)
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.enable()

    threading.setprofile(start)
    return profilers


def cpu_per_request(url: str, n: int = 2000) -> dict[str, float]:
    """CPU seconds one request costs the client: with requests (a session without proxy look-ups
    or compression, as the generator used before) and with the generator's own Client (http.client)."""
    import requests

    session = requests.Session()
    session.trust_env = False
    session.headers["Accept-Encoding"] = "identity"
    t0 = time.process_time()
    for _ in range(n):
        session.get(url + "/", timeout=5).content  # noqa: B018 - read the body, as the generator does
    with_requests = (time.process_time() - t0) / n
    with Client(url, timeout_s=5) as client:
        t0 = time.process_time()
        for _ in range(n):
            client.send("GET", "/")
        ours = (time.process_time() - t0) / n
    return {"requests": with_requests, "Client": ours}


def reference(url: str, rate: int, seconds: float) -> dict[str, float]:
    vegeta = shutil.which("vegeta") or str(Path.home() / "go" / "bin" / "vegeta")
    attack = subprocess.run([vegeta, "attack", f"-rate={rate}", f"-duration={seconds}s", "-timeout=5s"],
                            input=f"GET {url}/\n".encode(), capture_output=True, check=True)
    report = subprocess.run([vegeta, "report", "-type=json"], input=attack.stdout, capture_output=True, check=True)
    data = json.loads(report.stdout)
    lat = data["latencies"]  # nanoseconds
    return {"achieved": data["rate"], "ok": data["success"], "p50": lat["50th"] / 1e9, "p90": lat["90th"] / 1e9,
            "p99": lat["99th"] / 1e9, "p99.9": math.nan, "p100": lat["max"] / 1e9}


def _print_profile(profilers: list[cProfile.Profile]) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profilers[0], stream=out)
    for profiler in profilers[1:]:
        stats.add(profiler)
    stats.sort_stats("tottime").print_stats(14)
    print(f"  where the generator's time goes ({len(profilers)} threads, cProfile, by own time):")
    for line in out.getvalue().splitlines()[5:24]:
        if line.strip():
            print("   ", line[:150])


def ms(value: float) -> str:
    return "   n/a" if value != value else f"{value * 1000:6.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="500,1000,2000,5000")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--profile", action="store_true", help="profile our generator at the highest rate")
    args = parser.parse_args()
    subprocess.run([str(ROOT / "bench" / "install-reference.sh")], check=True, stdout=subprocess.DEVNULL)
    client = docker.from_env()
    container, url = start_nginx(client)
    rates = [int(r) for r in args.rates.split(",")]
    try:
        print(f"target: nginx welcome page at {url}, {args.seconds:g} s per rate; latency in ms")
        print(f"{'rate':>6} {'tool':<8} {'achieved':>9} {'ok':>6} {'lag p99':>8} {'lag max':>8} "
              + " ".join(f"{'p' + format(q, 'g') if q < 100 else 'max':>7}" for q in QS))
        cost = cpu_per_request(url)
        print(f"client CPU per request: requests {cost['requests'] * 1e6:.0f} us, ours "
              f"{cost['Client'] * 1e6:.0f} us -> one core (the GIL) tops out near "
              f"{1 / cost['requests']:.0f} and {1 / cost['Client']:.0f} req/s")
        for rate in rates:
            mine = ours(url, rate, args.seconds, args.profile and rate == rates[-1])
            ref = reference(url, rate, args.seconds)
            for tool, f in (("azchaos", mine), ("vegeta", ref)):
                lag = f"{ms(f['lag_p99']):>8} {ms(f['lag_max']):>8}" if "lag_p99" in f else f"{'':>8} {'':>8}"
                print(f"{rate:>6} {tool:<8} {f['achieved']:9.0f} {f['ok']:6.1%} {lag} "
                      + " ".join(f"{ms(f[f'p{q:g}']):>7}" for q in QS))
            print(f"{'':>6} p99 ratio azchaos/vegeta {mine['p99'] / ref['p99']:.2f}, difference "
                  f"{(mine['p99'] - ref['p99']) * 1000:+.2f} ms")
    finally:
        container.remove(force=True)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
