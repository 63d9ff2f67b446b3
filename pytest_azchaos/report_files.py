"""Reports on disk: ``write_report`` writes one report folder; ``write_run`` keeps each run's report
in a folder shared by runs, so runs that share it (several terminals or CI jobs in one checkout) do not
overwrite each other's.

    azchaos-report/
      report.html, report.json   the run that finished last (as before)
      latest -> runs/<...>       the same run's folder, with its charts
      index.html                 every kept run, newest first, with its verdicts
      runs/<time>-<pid>/         one run's report.html, report.json and charts/
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from html import escape
from pathlib import Path
from typing import Any

from . import chart
from .report_html import chart_title, render_html

KEEP_RUNS = 50  # older runs' folders are removed


def write_run(data: dict[str, Any], folder: str | Path, *, run: str | None = None) -> Path:
    """Write ``data`` as a run of its own under ``folder``/runs/, make it the folder's latest report,
    and update the index; return the path of the latest report.html."""
    folder = Path(folder)
    run = run or time.strftime("%Y%m%d-%H%M%S", time.localtime(data["created"])) + f"-{os.getpid()}"
    page = write_report(data, folder / "runs" / run)
    for name in ("report.json", "report.html"):  # whole files, renamed over: a reader never sees half
        replace_file(folder / name, (page.parent / name).read_bytes())
    _point(folder / "latest", Path("runs") / run)
    _prune(folder / "runs")
    replace_file(folder / "index.html", index_html(folder / "runs").encode())
    return (folder / "report.html").resolve()


def _point(link: Path, target: Path) -> None:
    """Make ``link`` a symbolic link to ``target``, atomically (a new link renamed over the old one)."""
    temp = link.with_name(f".{link.name}.{os.getpid()}")
    temp.unlink(missing_ok=True)
    temp.symlink_to(target, target_is_directory=True)
    os.replace(temp, link)


def _prune(runs: Path) -> None:
    for old in sorted(runs.iterdir(), reverse=True)[KEEP_RUNS:]:
        shutil.rmtree(old, ignore_errors=True)


#: The summary's counts the index lists for each run, in this order.
INDEX_COUNTS = ("slo_broken", "failed", "not_steady", "passed", "xfailed", "reruns", "not_run")


def index_html(runs: Path) -> str:
    """The index page: each run under ``runs`` (newest first), its summary, a link to its report."""
    rows = []
    for run in sorted(runs.iterdir(), reverse=True):
        try:
            data = json.loads((run / "report.json").read_text(encoding="utf-8"))
            summary = data["summary"]
        except (OSError, ValueError, KeyError, TypeError):  # being written, or not a report: not listed
            continue
        counts = ", ".join(f"{summary[k]} {k.replace('_', ' ')}" for k in INDEX_COUNTS if summary.get(k))
        rows.append(f"<tr><td><a href='runs/{escape(run.name)}/report.html'>{escape(run.name)}</a></td>"
                    f"<td>{escape(str(data.get('title', '')))}</td><td>{summary.get('tests', 0)}</td>"
                    f"<td>{escape(counts)}</td></tr>")
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>azchaos reports</title>"
            "<style>body{font-family:sans-serif;margin:1.5em}td,th{padding:2px 8px;text-align:left}</style></head>"
            f"<body><h1>azchaos reports</h1><table><tr><th>run<th>title<th>tests<th>verdicts</tr>{''.join(rows)}"
            "</table></body></html>")


def write_report(data: dict[str, Any], folder: str | Path) -> Path:
    """Write ``data`` (from ``report_data.report()``) as report.json, report.html and charts/ into
    ``folder``; return the HTML path. Each file is replaced whole, so a reader never sees half of one.

    Example::

        write_report(report_data.report([entry], kind="gameday", title="az-power-loss"), "azchaos-report")
    """
    folder = Path(folder)
    charts = folder / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    drawings = {test["test"]: _write_charts(test, charts) for test in data["tests"]}
    replace_file(folder / "report.json", json.dumps(data, indent=2).encode())
    page = folder / "report.html"
    replace_file(page, render_html(data, drawings=drawings).encode())
    return page.resolve()


def _write_charts(test: dict[str, Any], charts: Path) -> str:
    """Write a test's chart as SVG and PNG; return the SVG (drawn once, inlined in the HTML too)."""
    name, title = chart_file_name(test["test"]), chart_title(test["test"])
    drawing = chart.svg(test["chart"], title=title)
    if drawing:
        replace_file(charts / f"{name}.svg", drawing.encode())
    picture = chart.png(test["chart"], title=title)
    if picture is not None:
        replace_file(charts / f"{name}.png", picture)
    return drawing


def chart_file_name(test: str) -> str:
    """A file name for a test's chart: its node id with anything but letters, digits, '-', '_', '.' as '_'."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", test).strip("_")[:150] or "test"


def replace_file(path: Path, content: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename it over: atomic on one file system."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
