"""``azchaos gameday SCENARIO.yaml``: run a written scenario with a live view, then keep a report.

With ``--run-id`` it runs against that running stack (``azchaos up``) and leaves it running;
without, it starts a stack of the scenario's environment and removes it afterwards. The scenario
is checked first, against the stack's topology too: bad input changes nothing.

Exit status: 0 every expectation held, 1 one was broken (or a fault could not be healed),
2 bad input or a stack that could not start, 130 interrupted (everything healed, report written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from . import gameday_report, load
from .gameday import GameDay, GameDayResult
from .gameday_scenario import check_against, load_scenario
from .gameday_view import LiveView, verdicts
from .resources import environment_file
from .stack import Stack, reaper
from .stack.backend import DockerBackend

Progress = Callable[[str], None]


def add_parser(sub: Any) -> None:
    """Add the ``gameday`` command to the top-level subparsers."""
    parser = sub.add_parser("gameday", help="run a game-day scenario (YAML) with a live view, then write a report")
    parser.add_argument("scenario", metavar="SCENARIO.yaml", help="e.g. examples/gamedays/az-power-loss.yaml")
    parser.add_argument("--run-id", help="run against this running stack (default: start one, remove it after)")
    parser.add_argument("--env", help="the environment of the stack to start (default: the scenario's)")
    parser.add_argument("--report", metavar="DIR",
                        help="where to write report.json and report.html (default: azchaos-report/gameday-NAME)")
    parser.add_argument("--keep", action="store_true", help="leave a stack this command started running")


def gameday(args: argparse.Namespace, only_run: Callable[[DockerBackend, str | None], str],
            progress: Progress) -> int:
    """Run the scenario of ``args``; return the exit status."""
    scenario = load_scenario(args.scenario)
    backend = DockerBackend()
    if args.run_id:
        stack = Stack.attach(only_run(backend, args.run_id), backend=backend, progress=progress)
        check_against(scenario, stack)
        return _run(args, scenario, stack, progress)
    stack = Stack(load(environment_file(args.env or scenario.environment)), backend=backend, progress=progress)
    check_against(scenario, stack)  # before anything starts
    with reaper.Guard(backend, stack.run_id, progress):  # removes the stack if this command is killed
        try:
            stack.up()
            return _run(args, scenario, stack, progress)
        finally:
            if args.keep:
                backend.mark_kept(stack.run_id)
                progress(f"--keep: stack {stack.run_id} left running; remove it with 'azchaos down --run-id "
                         f"{stack.run_id}'")
            else:
                progress(f"removing stack {stack.run_id}")
                stack.down()


def _run(args: argparse.Namespace, scenario: Any, stack: Stack, progress: Progress) -> int:
    console = Console(stderr=True)
    day = GameDay(scenario, stack)
    progress(f"game day {scenario.name!r} on stack {stack.run_id}: {len(scenario.steps)} steps "
             "(Ctrl-C heals everything and stops)")
    with LiveView(day, console):
        result = day.run()
    console.print(verdicts(result))
    folder = Path(args.report or f"azchaos-report/gameday-{scenario.path.stem}")
    page = gameday_report.write(result, folder, environment=_facts(stack))
    print(f"azchaos: game day report: {page}", file=sys.stderr, flush=True)
    return _status(result)


def _facts(stack: Stack) -> dict[str, Any] | None:
    facts = getattr(gameday_report.optional_module("report_data"), "environment_facts", None)
    if facts is None:
        return None
    try:
        found: dict[str, Any] = facts(stack)
    except Exception:  # the facts are a nicety: a report without them beats no report
        return None
    return found


def _status(result: GameDayResult) -> int:
    if result.aborted and result.aborted.startswith("interrupted"):
        return 130
    return 0 if result.passed else 1
