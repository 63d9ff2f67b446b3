"""bench/repeat.py: the summary of N runs read from their report.json files."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_repeat() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_repeat", ROOT / "bench" / "repeat.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_repeat"] = module
    spec.loader.exec_module(module)
    return module


def slo(name: str, value: float | None, passed: bool = True, message: str = "") -> dict[str, object]:
    return {"test": "t.py::test_region", "name": name, "value": value, "passed": passed, "message": message}


def test_summary_gives_pass_rate_reasons_and_min_median_max() -> None:
    repeat = load_repeat()
    runs = [
        repeat.Run(1, 0, 60.0, {"slos": [slo("p99", 0.5), slo("lost_writes", 0)]}),
        repeat.Run(2, 1, 61.0, {"slos": [slo("p99", 2.5, False, "p99 = 2.500 s > 1 s: ..."),
                                          slo("lost_writes", 0)]}),
        repeat.Run(3, 1, 62.0, {"tests": [{"test": "t.py::test_region", "verdict": "not_steady",
                                            "reason": "no synchronous standby"}],
                                 "slos": [slo("p99", 1.0), slo("lost_writes", 6, False, "lost")]}),
    ]
    lines = repeat.summary(runs)
    assert lines[0] == "pass rate: 1/3 (33%)"
    assert "  1x stack not steady: no synchronous standby" in lines
    assert "  1x p99 = 2.500 s > 1 s: ..." in lines
    p99 = next(line for line in lines if line.startswith("test_region::p99"))
    assert p99.split()[1:] == ["3", "0.500", "1", "2.500"]
    lost = next(line for line in lines if line.startswith("test_region::lost_writes"))
    assert lost.split()[1:] == ["3", "0", "0", "6"]


def test_a_failed_run_without_report_still_says_why() -> None:
    repeat = load_repeat()
    assert repeat.Run(1, 2, 1.0).reasons() == ["pytest exit status 2, no broken SLO in the report"]
    assert repeat.summary([repeat.Run(1, 2, 1.0)])[0] == "pass rate: 0/1 (0%)"


def test_a_failed_test_and_a_stopped_run_say_why() -> None:
    repeat = load_repeat()
    run = repeat.Run(1, 2, 9.0, {"tests": [{"test": "t.py::test_b", "verdict": "failed",
                                             "reason": "FaultError: injecting outage(a, power) failed: ..."}],
                                 "summary": {"not_run": 2}, "stopped": "azchaos: the Docker engine stopped ..."})
    assert run.reasons() == ["test_b: FaultError: injecting outage(a, power) failed: ...",
                             "stopped before its last test (2 did not run): azchaos: the Docker engine stopped ..."]


def test_arguments_after_a_double_dash_go_to_pytest_as_they_are(tmp_path: Path) -> None:
    repeat = load_repeat()
    seen: list[list[str]] = []

    def one_run(number: int, scenario: str, out: Path, pytest_args: list[str]) -> object:
        seen.append(list(pytest_args))
        return repeat.Run(number, 0, 1.0, {"slos": []})

    repeat.one_run = one_run
    argv = ["examples/scenarios", "-n", "1", "--out", str(tmp_path), "--", "-k", "frozen or partition"]
    assert repeat.main(argv) == 0
    assert seen == [["-k", "frozen or partition"]]


def test_a_beside_command_runs_in_a_loop_and_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    repeat = load_repeat()
    marker = tmp_path / "child.pid"
    # Each round starts a sleeping child: stopping the loop must stop that child too.
    command = f"sleep 30 & echo $! > {marker}; wait"
    with repeat.beside(["true", command], tmp_path, max_s=120) as logs:
        # Generous: it failed once with 10 s, in the unit suite beside a scenario repeat and installs.
        deadline = time.monotonic() + 60
        while (repeat.rounds(logs[0])[0] < 3 or not marker.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
    finished, failed = repeat.rounds(logs[0])
    assert finished >= 3 and failed == 0, f"{finished} rounds, {failed} failed: {logs[0].read_text()[-300:]!r}"
    child = int(marker.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the loop's child outlived the benchmark"


def test_killing_the_benchmark_stops_its_beside_loops(tmp_path: Path) -> None:
    scenario = tmp_path / "test_slow.py"
    scenario.write_text("import time\n\ndef test_slow():\n    time.sleep(60)\n")
    marker = tmp_path / "child.pid"
    bench = subprocess.Popen([sys.executable, str(ROOT / "bench" / "repeat.py"), str(scenario), "-n", "1",
                              "--out", str(tmp_path / "out"), "--beside", f"sleep 60 & echo $! > {marker}; wait"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the beside loop never started"
    bench.terminate()  # SIGTERM, as `kill` sends
    assert bench.wait(timeout=30) != 0
    child = int(marker.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the beside loop outlived the killed benchmark"


def test_rounds_counts_the_failed_ones(tmp_path: Path) -> None:
    repeat = load_repeat()
    log = tmp_path / "beside-1.log"
    log.write_text("unpacking...\ndone 0\nE: dpkg was interrupted\ndone 100\ndone 0\n")
    assert repeat.rounds(log) == (3, 1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state not in ("Z", "X")
