"""The live terminal view of a game day (rich), and its verdicts at the end.

On a terminal it redraws in place twice a second; elsewhere (a log, a pipe) it prints one
plain line every few seconds, so that a CI log still tells the story.
"""

from __future__ import annotations

import threading
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .gameday import GameDay, GameDayResult, Status

REFRESH_PER_S = 2
PLAIN_EVERY_S = 5.0


def clock(seconds: float) -> str:
    """Elapsed time for people: 0:42, 12:05, 1:02:03."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _millis(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def render(status: Status, *, title: str) -> Panel:
    """The view of one moment: elapsed time, the step, active faults, traffic and the DB."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    left = "" if status.step_left_s is None else f"  ({status.step_left_s:.0f} s left)"
    grid.add_row("elapsed", clock(status.elapsed_s))
    grid.add_row("step", f"{status.step_number}/{status.steps} {status.step}{left}")
    faults = Text(", ".join(status.faults), style="bold red") if status.faults else Text("none", style="green")
    grid.add_row("faults", faults)
    grid.add_row("rate", f"{status.rate_per_s:.1f}/s (target {status.target_rate_per_s:g}/s)")
    errors = Text(f"{status.errors} ({status.recent_errors} in the last 5 s)",
                  style="red" if status.recent_errors else "")
    grid.add_row("errors", errors)
    grid.add_row("p99", _millis(status.p99_s) + " (last 10 s)")
    grid.add_row("DB leader", Text(status.leader, style="red" if status.leader == "none" else ""))
    grid.add_row("sync standby", status.sync_standby)
    return Panel(grid, title=title, title_align="left")


def plain(status: Status) -> str:
    """The same facts on one line, for logs."""
    faults = ", ".join(status.faults) or "none"
    return (f"[{clock(status.elapsed_s)}] step {status.step_number}/{status.steps} {status.step} | faults: {faults} | "
            f"rate {status.rate_per_s:.1f}/s | errors {status.errors} | p99 {_millis(status.p99_s)} | "
            f"DB leader {status.leader}, sync standby {status.sync_standby}")


class LiveView:
    """Show ``gameday.status()`` while the ``with`` block runs."""

    def __init__(self, gameday: GameDay, console: Console | None = None) -> None:
        self.gameday = gameday
        self.console = console or Console(stderr=True)
        self.title = f"azchaos gameday: {gameday.scenario.name} (stack {gameday.stack.run_id})"
        self._live: Live | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _view(self) -> Panel:
        return render(self.gameday.status(), title=self.title)

    def __enter__(self) -> LiveView:
        if self.console.is_terminal:
            self._live = Live(get_renderable=self._view, console=self.console, refresh_per_second=REFRESH_PER_S,
                              transient=False)
            self._live.start()
        else:
            self._thread = threading.Thread(target=self._print_lines, name="azchaos-gameday-view", daemon=True)
            self._thread.start()
        return self

    def _print_lines(self) -> None:
        while not self._stop.wait(PLAIN_EVERY_S):
            self.console.print(plain(self.gameday.status()), highlight=False, soft_wrap=True)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._live is not None:
            self._live.stop()
        if self._thread is not None:
            self._thread.join()
            self.console.print(plain(self.gameday.status()), highlight=False, soft_wrap=True)


def verdicts(result: GameDayResult) -> Group:
    """The verdicts of the expect steps, and how the run ended."""
    table = Table(title=f"game day {result.scenario.name}: verdicts", title_justify="left")
    for column in ("line", "SLO", "verdict", "detail"):
        table.add_column(column, overflow="fold")
    for step, slo in result.verdicts:
        verdict = Text("PASS", style="green") if slo.passed else Text("FAIL", style="bold red")
        table.add_row(str(step.line), slo.name, verdict, slo.message)
    lines: list[Text | Table] = [table] if result.verdicts else [Text("no expect step was reached")]
    if result.aborted:
        lines.append(Text(f"aborted: {result.aborted}; every fault was healed", style="yellow"))
    for error in result.heal_errors:
        lines.append(Text(f"could not heal: {error}", style="bold red"))
    overall = "PASSED" if result.passed else "FAILED" if result.completed else "INCOMPLETE"
    lines.append(Text(f"game day {overall} after {clock(result.duration_s)} "
                      f"({result.steps_done} of {len(result.scenario.steps)} steps)",
                      style="bold green" if result.passed else "bold red"))
    return Group(*lines)
