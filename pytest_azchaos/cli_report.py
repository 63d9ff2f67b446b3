"""``azchaos report``: re-render a report.json as HTML, compare the SLOs of two runs, print the schema.

Example::

    azchaos report azchaos-report/report.json -o report.html
    azchaos report --compare before/report.json after/report.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from . import report_schema
from .errors import ConfigError
from .report_html import render_html


def add_parser(sub: Any) -> None:
    """Add the ``report`` command to the top-level subparsers."""
    report = sub.add_parser("report", help="re-render a report.json as HTML, or compare the SLOs of two runs")
    report.add_argument("report", nargs="?", metavar="REPORT_JSON", help="a report.json to render as HTML")
    report.add_argument("-o", "--output", metavar="HTML",
                        help="where to write the HTML (default: report.html beside REPORT_JSON)")
    report.add_argument("--compare", nargs=2, metavar=("BEFORE_JSON", "AFTER_JSON"),
                        help="show how each SLO value moved from one run to another")
    report.add_argument("--schema", action="store_true", help="print the JSON Schema of report.json")


def run(args: argparse.Namespace) -> int:
    """Run ``azchaos report``; return its exit status."""
    chosen = [name for name, given in (("REPORT_JSON", args.report), ("--compare", args.compare),
                                        ("--schema", args.schema)) if given]
    if len(chosen) != 1:
        found = " and ".join(chosen) or "none of them"
        raise ConfigError(f"azchaos report takes one of REPORT_JSON, --compare BEFORE AFTER or --schema; "
                          f"found {found}")
    if args.schema:
        print(json.dumps(report_schema.SCHEMA, indent=2))
        return 0
    if args.compare:
        before, after = (report_schema.load(path) for path in args.compare)
        print("\n".join(compare(before, after, names=tuple(args.compare))))
        return 0
    return _render(Path(args.report), args.output)


def _render(source: Path, output: str | None) -> int:
    data = report_schema.load(source)
    target = Path(output) if output else source.with_suffix(".html")
    try:
        target.write_text(render_html(data), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write the report: {exc.strerror or exc}") from None
    print(target)
    return 0


def compare(before: dict[str, Any], after: dict[str, Any], *, names: tuple[str, str] = ("before", "after")
            ) -> list[str]:
    """The lines of ``--compare``: per test and SLO in both runs, the values, the change and the verdicts;
    then what only one run has."""
    old, new = _slos(before), _slos(after)
    both = [key for key in new if key in old]
    rows = [("test", "SLO", "before", "after", "change", "verdict")]
    rows += [(test, name, old[test, name]["shown"], new[test, name]["shown"],
              change(old[test, name], new[test, name]), _verdicts(old[test, name], new[test, name]))
             for test, name in both]
    lines = [f"before: {names[0]}", f"after:  {names[1]}"]
    if both:
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines += ["  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths, strict=False)) + "  " + row[5]
                  for row in rows]
    else:
        lines.append("no SLO was checked in both runs")
    lines += [f"only before: {test} {name} = {slo['shown']}" for (test, name), slo in old.items()
              if (test, name) not in new]
    lines += [f"only after:  {test} {name} = {slo['shown']}" for (test, name), slo in new.items()
              if (test, name) not in old]
    return lines


def _slos(data: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(test["test"], slo["name"]): slo for test in data["tests"] for slo in test["slos"]}


def change(old: dict[str, Any], new: dict[str, Any]) -> str:
    """How an SLO's value moved: the difference (in seconds for durations) and its percentage."""
    a, b = old["value"], new["value"]
    if a is None or b is None:
        return "n/a" if a == b else f"{old['shown']} -> {new['shown']}"
    delta = b - a
    if delta == 0:
        return "same"
    text = f"{delta:+.3f} s" if old.get("unit") == "s" else f"{delta:+.4g}"
    return text + (f" ({delta / abs(a):+.0%})" if a else "")


def _verdicts(old: dict[str, Any], new: dict[str, Any]) -> str:
    a, b = old["verdict"].upper(), new["verdict"].upper()
    return a if a == b else f"{a} -> {b}"
