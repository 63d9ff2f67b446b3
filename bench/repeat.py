"""Benchmark: how repeatable is a scenario's verdict? Run it N times and summarise.

Runs a pytest scenario (a file, folder or node id, e.g. ``examples/scenarios``) N
times, each run in its own pytest process with its own ``--azchaos-report``
folder, and reads every run's ``report.json``. Prints the pass rate, why runs
failed (a broken SLO, or "stack not steady" with its reason), and for each SLO
its value's min / median / max over the runs (failover time, p99, failed and
lost counts...). ``--host-load CORES`` keeps that many cores busy with a
background load for the whole benchmark (a busy CI runner), and stops it at the
end, or after ``--max-load-s``, whichever comes first. ``--beside CMD`` runs a shell
command again and again beside the runs, for as long (a package install, a build:
the IO and CPU bursts of a real shared machine, which a spinning core does not
give); how many times each finished is printed at the end.

    .venv/bin/python bench/repeat.py examples/scenarios -n 5 [--host-load 2] [--out bench-out] [-- -k power]
    .venv/bin/python bench/repeat.py examples/scenarios/test_01_az_power_loss.py -n 20 \
        --beside 'dpkg -i /tmp/debs/*.deb'

Exit status 0 if every run passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    """One pytest run of the scenario: its exit status, how long it took, and what its report says."""

    number: int
    exit_status: int
    seconds: float
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.exit_status == 0

    def slo_values(self) -> Iterator[tuple[str, float | None, str]]:
        """(test::SLO, value, shown) for every SLO verdict in the report."""
        for slo in self.report.get("slos", []):
            test = slo["test"].split("::")[-1]
            yield f"{test}::{slo['name']}", slo.get("value"), slo.get("shown", "")

    def reasons(self) -> list[str]:
        """Why the run failed: each "stack not steady" verdict, each broken SLO's message, each test's
        own error, and a stop before the last test (an engine gone silent, -x)."""
        tests = self.report.get("tests", [])
        found = [f"stack not steady: {t['reason']}" for t in tests if t.get("verdict") == "not_steady"]
        found += [slo["message"] for slo in self.report.get("slos", []) if not slo.get("passed", True)]
        found += [f"{t['test'].split('::')[-1]}: {t['reason']}" for t in tests
                  if t.get("verdict") == "failed" and t.get("reason")]
        if self.report.get("stopped"):
            not_run = self.report.get("summary", {}).get("not_run", 0)
            found.append(f"stopped before its last test ({not_run} did not run): {self.report['stopped']}")
        if not found and not self.passed:
            found.append(f"pytest exit status {self.exit_status}, no broken SLO in the report")
        return found


def _spin(deadline: float) -> None:
    """Keep one core busy until ``deadline`` (monotonic) or until the benchmark process is gone."""
    parent = os.getppid()
    x = 0
    while time.monotonic() < deadline:
        for _ in range(100_000):
            x = (x * 31 + 7) % 1_000_003
        if os.getppid() != parent:  # orphaned: the benchmark was killed, so stop
            return


@contextmanager
def host_load(cores: int, *, max_s: float) -> Iterator[None]:
    """Keep ``cores`` cores busy (one spinning process each) while the block runs, at most ``max_s``."""
    if cores <= 0:
        yield
        return
    deadline = time.monotonic() + max_s
    workers = [multiprocessing.Process(target=_spin, args=(deadline,), daemon=True) for _ in range(cores)]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.join(timeout=5)


@contextmanager
def beside(commands: Sequence[str], out: Path, *, max_s: float) -> Iterator[list[Path]]:
    """Run each shell command in a loop while the block runs, at most ``max_s``; yields their logs.

    Each loop is a shell in its own process group, so that stopping it stops what the command
    started too (dpkg, pip and their children). A loop appends "done <exit status>" to its log after
    each round, which is how the summary counts the rounds.
    """
    loops: list[subprocess.Popen[bytes]] = []
    logs = [out / f"beside-{number}.log" for number in range(1, len(commands) + 1)]
    try:
        for command, log in zip(commands, logs, strict=True):
            script = f'end=$(( $(date +%s) + {int(max_s)} )); while [ "$(date +%s)" -lt "$end" ]; ' \
                     f'do ( {command} ); echo "done $?"; done'
            with log.open("w") as sink:
                loops.append(subprocess.Popen(["sh", "-c", script], stdout=sink, stderr=subprocess.STDOUT,
                                              start_new_session=True))
        yield logs
    finally:
        for loop in loops:
            with suppress(ProcessLookupError):  # the loop ended by itself (max_s)
                os.killpg(loop.pid, signal.SIGKILL)
            loop.wait()


def rounds(log: Path) -> tuple[int, int]:
    """(rounds finished, rounds that failed) of one ``--beside`` loop, from its log."""
    statuses = [line.split()[1] for line in log.read_text(errors="replace").splitlines()
                if line.startswith("done ") and len(line.split()) == 2]
    return len(statuses), sum(status != "0" for status in statuses)


def one_run(number: int, scenario: str, out: Path, pytest_args: Sequence[str]) -> Run:
    folder = out / f"run-{number}"
    command = [sys.executable, "-m", "pytest", scenario, f"--azchaos-report={folder}", "-p", "no:cacheprovider",
               "-q", *pytest_args]
    started = time.monotonic()
    with (out / f"run-{number}.log").open("w") as log:
        status = subprocess.call(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    run = Run(number, status, time.monotonic() - started)
    report = folder / "report.json"
    if report.exists():
        run.report = json.loads(report.read_text())
    return run


def summary(runs: Sequence[Run]) -> list[str]:
    """The lines to print: pass rate, failure reasons by count, and each SLO value's min / median / max."""
    passed = sum(run.passed for run in runs)
    lines = [f"pass rate: {passed}/{len(runs)} ({passed / len(runs):.0%})"]
    reasons = Counter(_first_line(reason) for run in runs for reason in run.reasons())
    for reason, count in reasons.most_common():
        lines.append(f"  {count}x {reason}")
    values: dict[str, list[float]] = {}
    for run in runs:
        for name, value, _ in run.slo_values():
            values.setdefault(name, []).append(math.inf if value is None else float(value))
    if values:
        width = max(len(name) for name in values)
        lines.append(f"{'SLO':<{width}}  {'runs':>4} {'min':>10} {'median':>10} {'max':>10}")
        for name, found in sorted(values.items()):
            lines.append(f"{name:<{width}}  {len(found):>4} {_num(min(found)):>10} "
                         f"{_num(statistics.median(found)):>10} {_num(max(found)):>10}")
    return lines


def _first_line(text: str) -> str:
    line = text.splitlines()[0] if text else text
    return line if len(line) <= 200 else line[:197] + "..."


def _num(value: float) -> str:
    return "n/a/never" if not math.isfinite(value) else f"{value:.3f}" if value % 1 else f"{value:.0f}"


def add_load_options(parser: argparse.ArgumentParser) -> None:
    """--host-load and --beside: the load to run beside (also bench/stack_start.py)."""
    parser.add_argument("--host-load", type=int, default=0, metavar="CORES",
                        help="keep this many cores busy with a background load during the runs")
    parser.add_argument("--beside", action="append", default=[], metavar="CMD",
                        help="a shell command to run again and again beside the runs (repeatable)")


def exit_on_sigterm() -> None:
    """Make ``kill`` stop the loads too: SIGTERM becomes SystemExit, so that host_load and beside
    clean up as their blocks end (a killed benchmark left its --beside loops running)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def main(argv: Sequence[str] | None = None) -> int:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", help="a pytest file, folder or node id, e.g. examples/scenarios")
    parser.add_argument("-n", "--runs", type=int, default=5, help="how many runs (default 5)")
    add_load_options(parser)
    parser.add_argument("--max-load-s", type=float, default=3600,
                        help="stop the host load and the --beside commands after this long")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "repeat",
                        help="folder for each run's log and azchaos report")
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after "--" goes to pytest as it is (argparse would take "-k" for an option of ours).
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    args.pytest_args = argv[cut + 1:]
    if args.runs < 1 or args.host_load < 0:
        parser.error("-n must be >= 1 and --host-load >= 0")
    args.out.mkdir(parents=True, exist_ok=True)
    runs = []
    with host_load(args.host_load, max_s=args.max_load_s), \
            beside(args.beside, args.out, max_s=args.max_load_s) as logs:
        for number in range(1, args.runs + 1):
            run = one_run(number, args.scenario, args.out, args.pytest_args)
            print(f"run {number}: {'PASS' if run.passed else 'FAIL'} in {run.seconds:.0f} s"
                  + "".join(f"\n  {_first_line(reason)}" for reason in run.reasons()), flush=True)
            runs.append(run)
    print(f"\n{args.scenario}: {args.runs} runs, host load {args.host_load} core(s); logs in {args.out}")
    for command, log in zip(args.beside, logs, strict=True):
        finished, failed = rounds(log)
        print(f"beside: {command!r} finished {finished} time(s), {failed} with an error (log {log})")
    print("\n".join(summary(runs)))
    return 0 if all(run.passed for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
