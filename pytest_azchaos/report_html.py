"""report.html: one self-contained page (no external asset, no script) rendered from report.json's data.

Verdicts first, failures first; then per test its chart, SLOs, events (relative and wall-clock
times) and commonest errors; then each environment the run used. Example::

    Path("report.html").write_text(render_html(report_schema.load("report.json")))
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from html import escape
from typing import Any

from . import chart

ORDER = {"slo_broken": 0, "failed": 1, "not_steady": 2, "passed": 3}
LABELS = {"slo_broken": "SLO BROKEN", "failed": "FAILED", "not_steady": "NOT STEADY", "passed": "PASSED"}

# A test id has no space to wrap at: headings and the verdicts table let it break anywhere, so that a
# long one (a parametrized test) does not make the whole page scroll sideways.
STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.4em 0 1em}td,th{padding:2px 8px;text-align:left;vertical-align:top}
th{background:#eee}tr:nth-child(even) td{background:#fafafa}
.verdict{font-weight:bold;padding:1px 6px;border-radius:3px;color:#fff}
.v-passed{background:#2a8a2a}.v-slo_broken,.v-failed{background:#c00}.v-not_steady{background:#c60}
.pass{color:#2a8a2a}.fail{color:#c00;font-weight:bold}.muted{color:#777}
.stopped{border-left:4px solid #c00;background:#fff4f4;padding:.4em .8em;overflow-wrap:anywhere}
section.test{border-top:1px solid #ccc;margin-top:1.5em}
h2,.verdicts td:nth-child(2){overflow-wrap:anywhere}.chart svg{max-width:100%;height:auto}
pre{background:#f6f6f6;padding:.5em;overflow:auto;font-size:90%}"""


def render_html(data: dict[str, Any], *, drawings: Mapping[str, str] | None = None) -> str:
    """Return report.html for a report's data (a validated report.json); ``drawings`` (test -> SVG)
    saves drawing again the charts a caller has drawn already."""
    tests = sorted(data["tests"], key=lambda t: ORDER.get(t["verdict"], 9))  # stable: run order within a verdict
    drawn = drawings or {}
    # "environments" is newer than schema version 1's "environment": a report without it had one
    envs = data.get("environments") or ([data["environment"]] if data.get("environment") else [])
    body = [f"<h1>{escape(data['title'])}</h1>", _summary(data), _verdicts(tests)]
    body += [_test(i, t, drawn.get(t["test"]), envs) for i, t in enumerate(tests, 1)]
    if not envs:
        body.append("<h2>Environment</h2><p class=muted>no stack facts were recorded</p>")
    for number, env in enumerate(envs, 1):
        body.append(_environment(env, "Environment" if len(envs) == 1 else f"Environment {number}: {_name(env)}"))
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>azchaos report: "
            f"{escape(data['title'])}</title><style>{STYLE}</style></head><body>{''.join(body)}</body></html>")


def _summary(data: dict[str, Any]) -> str:
    s = data["summary"]
    counts = ", ".join(f"{s[v]} {LABELS[v].lower()}" for v in ORDER if s.get(v))
    xfailed = f" ({s['xfailed']} of them expected to fail: xfail)" if s.get("xfailed") else ""
    reruns = f"; {s['reruns']} earlier attempt(s) of tests run again" if s.get("reruns") else ""
    stopped = ""
    if data.get("stopped"):  # the tests that did not run are in no table below: say so first
        not_run = f" {s['not_run']} selected test(s) did not run." if s.get("not_run") else ""
        stopped = (f"<p class=stopped><b>The run stopped before its last test:</b> "
                   f"{escape(data['stopped'])}.{not_run}</p>")
    return (f"<p>{_wall(data['created'], date=True)}: {data['kind']}, {s['tests']} test(s)"
            f"{': ' + counts if counts else ''}{xfailed}{reruns}.</p>{stopped}")


def _verdicts(tests: list[dict[str, Any]]) -> str:
    rows = "".join(f"<tr><td>{_badge(t['verdict'])}</td><td><a href='#test-{i}'>{escape(t['test'])}</a></td>"
                   f"<td>{escape(_why(t))}</td></tr>" for i, t in enumerate(tests, 1))
    return f"<h2>Verdicts</h2><table class=verdicts><tr><th>verdict<th>test<th>why</tr>{rows}</table>"


def _why(test: dict[str, Any]) -> str:
    """Why a test got its verdict; for a test a plugin ran again, which attempt this is and how the
    earlier ones ended."""
    reruns = test.get("reruns") or []
    earlier = ", ".join(f"{n}: {LABELS[r['verdict']]}" for n, r in enumerate(reruns, 1))
    expected = _expected(test)
    return _cause(test) + (f" ({expected})" if expected else "") + (
        f" (attempt {len(reruns) + 1}; earlier attempts {earlier})" if reruns else "")


def _expected(test: dict[str, Any]) -> str:
    """A test marked xfail: pytest expected it to fail (a known weakness), and why; empty for others.
    Plain words: the verdicts table puts them in parentheses, the test's own section does not."""
    if "xfail" not in test:
        return ""
    why = f": {test['xfail']}" if test["xfail"] else ""
    return f"expected to fail, xfail{why}" if test["verdict"] != "passed" else f"passed, though marked xfail{why}"


def _cause(test: dict[str, Any]) -> str:
    after = f"; then an error in teardown: {test['teardown_error']}" if "teardown_error" in test else ""
    return _verdict_cause(test) + after


def _verdict_cause(test: dict[str, Any]) -> str:
    if test["verdict"] == "not_steady":
        return f"stack not steady: {test.get('reason', '')}"
    if test["verdict"] == "failed" and test.get("reason"):
        return str(test["reason"])
    broken = [str(s["message"]) for s in test["slos"] if not s["passed"]]
    if broken:
        return broken[0] + (f" (and {len(broken) - 1} more)" if len(broken) > 1 else "")
    return f"{len(test['slos'])} SLO(s) met" if test["slos"] else ""


def _badge(verdict: str) -> str:
    return f"<span class='verdict v-{escape(verdict)}'>{LABELS.get(verdict, escape(verdict))}</span>"


def _test(number: int, test: dict[str, Any], drawing: str | None, envs: list[dict[str, Any]]) -> str:
    name = test["test"]
    if drawing is None:
        drawing = chart.svg(test["chart"], title=chart_title(name))
    parts = [f"<section class=test id='test-{number}' data-test='{escape(name)}'>",
             f"<h2>{_badge(test['verdict'])} {escape(name)}</h2>"]
    if "xfail" in test:
        parts.append(f"<p class=muted>{escape(_expected(test))}</p>")
    env = next((e for e in envs if e.get("run_id") == test.get("run_id")), None)
    if len(envs) > 1 and env is not None:  # with one region there is nothing to tell apart
        parts.append(f"<p class=ran-on>on <a href='#{_anchor(env)}'>{escape(_name(env))}</a>"
                     f" (run {escape(str(env['run_id']))})</p>")
    if test["verdict"] == "not_steady":
        parts.append(f"<p class=fail>stack not steady: {escape(test.get('reason', ''))}</p>")
    elif test["verdict"] == "failed" and test.get("reason"):
        parts.append(f"<p class=fail>{escape(test['reason'])}</p>")
    if "teardown_error" in test:
        parts.append(f"<p class=fail>then an error in teardown: {escape(test['teardown_error'])}</p>")
    parts.append(f"<div class=chart>{drawing}</div>" if drawing else "<p class='chart muted'>no traffic or events "
                                                                    "were recorded: no chart</p>")
    parts += [_slos(test["slos"]), _events(test["events"]), _errors(test["errors"]), _timings(test["timings"])]
    parts += [_rerun(n, attempt, len(test["reruns"]) + 1) for n, attempt in enumerate(test.get("reruns", []), 1)]
    return "".join(parts) + "</section>"


def _rerun(number: int, attempt: dict[str, Any], attempts: int) -> str:
    """An earlier attempt of a test that a plugin ran again: folded, with its own chart, SLOs and events."""
    drawing = chart.svg(attempt["chart"], title=f"{chart_title(attempt['test'])}, attempt {number}")
    return (f"<details class=rerun><summary>attempt {number} of {attempts}: {_badge(attempt['verdict'])} "
            f"{escape(_cause(attempt))}</summary>"
            + (f"<div class=chart>{drawing}</div>" if drawing else "")
            + _slos(attempt["slos"]) + _events(attempt["events"]) + _errors(attempt["errors"]) + "</details>")


def chart_title(test: str) -> str:
    """A chart's title: the test's name without its file."""
    return test.split("::")[-1]


def _slos(slos: list[dict[str, Any]]) -> str:
    if not slos:
        return "<h3>SLOs</h3><p class=muted>no SLO was checked</p>"
    rows = "".join(f"<tr class={s['verdict']}><td>{escape(s['name'])}</td><td>{escape(s['shown'])}</td>"
                   f"<td>{escape(s['shown_limit'])}</td><td class={s['verdict']}>{s['verdict'].upper()}</td>"
                   f"<td>{escape(s['message'])}</td></tr>" for s in slos)
    return f"<h3>SLOs</h3><table class=slos><tr><th>SLO<th>value<th>limit<th>verdict<th>message</tr>{rows}</table>"


def _events(events: list[dict[str, Any]]) -> str:
    if not events:
        return ("<div class=events><h3>Events</h3><p class=muted>no fault and no change of the stack was recorded"
                "</p></div>")
    rows = "".join(f"<tr><td>{e['t']:+.1f} s</td><td>{_wall(e['wall'])}</td><td>{escape(e['kind'])}</td>"
                   f"<td>{escape(e['subject'])}</td><td>{escape(e['detail'])}</td></tr>" for e in events)
    return (f"<div class=events><h3>Events</h3><table><tr><th>time<th>wall clock<th>event<th>subject<th>detail</tr>"
            f"{rows}</table></div>")


def _errors(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return ""
    rows = "".join(f"<tr><td>{escape(e['kind'])}</td><td>{escape(e['error'])}</td><td>{e['count']}</td></tr>"
                   for e in errors)
    return f"<h3>Commonest errors</h3><table class=errors><tr><th>kind<th>error<th>count</tr>{rows}</table>"


def _timings(timings: dict[str, Any]) -> str:
    cells = [f"<td>{escape(k.replace('_', ' '))}</td><td>{_moment(k, v)}</td>" for k, v in timings.items()]
    rows = "".join(f"<tr>{cell}</tr>" for cell in cells)
    return f"<details><summary>Key timings</summary><table class=timings>{rows}</table></details>"


def _moment(key: str, value: float | None) -> str:
    if value is None:
        return "<span class=muted>none</span>"
    return f"{value:g}" if key in ("requests", "failed") else f"{value:+.1f} s"


def _name(env: dict[str, Any]) -> str:
    """An environment's short name: its file's, e.g. default.yaml."""
    return str(env.get("environment", "?")).replace("\\", "/").rsplit("/", 1)[-1]


def _anchor(env: dict[str, Any]) -> str:
    return "env-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in str(env.get("run_id", "")))


def _environment(env: dict[str, Any], heading: str) -> str:
    head = (f"<p>environment {escape(str(env.get('environment', '?')))}, run {escape(str(env.get('run_id', '?')))}, "
            f"AZs: {escape(', '.join(env.get('azs', [])))}</p>")
    services = "".join(
        f"<tr><td>{escape(name)}</td><td>{escape(s['role'])}</td><td>{escape(', '.join(s['azs']) or 'regional')}</td>"
        f"<td>{s['replicas_per_az']}</td><td><code>{escape(json.dumps(s['options']))}</code></td></tr>"
        for name, s in env.get("services", {}).items())
    images = "".join(f"<tr><td>{escape(k)}</td><td><code>{escape(v)}</code></td></tr>"
                     for k, v in env.get("images", {}).items())
    roles = env.get("roles", {})
    facts = "".join(f"<tr><th>{escape(role)}</th><td>{_fact(found)}</td></tr>" for role, found in roles.items())
    members = env.get("members", [])
    error = f"<p class=fail>{escape(env['status_error'])}</p>" if env.get("status_error") else ""
    return (f"<h2 id='{_anchor(env)}'>{escape(heading)}</h2>{head}{error}"
            f"<h3>Services</h3><table class=services><tr><th>service<th>role<th>AZs"
            f"<th>replicas per AZ<th>options</tr>{services}</table><h3>Images</h3><table class=images><tr>"
            f"<th>service/role<th>image</tr>{images}</table>"
            f"<h3>Stack facts at start</h3><table class=facts>{facts}</table>"
            f"<details><summary>Members at start ({len(members)})</summary>{_fact(members)}</details>"
            f"<details><summary>Stack facts as JSON</summary><pre>{escape(json.dumps(roles, indent=2))}</pre>"
            f"</details>")


def _fact(value: Any) -> str:
    """A role's facts as a person reads them: a list of rows as a table, other lists joined, a mapping
    as name: value pairs. Generic on purpose: each role says what its facts are (stack/roles/)."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        columns = list(dict.fromkeys(k for row in value for k in row))
        head = "".join(f"<th>{escape(str(c))}" for c in columns)
        rows = "".join("<tr>" + "".join(f"<td>{_fact(row.get(c))}</td>" for c in columns) + "</tr>" for row in value)
        return f"<table class=rows><tr>{head}</tr>{rows}</table>"
    if isinstance(value, list):
        return ", ".join(_fact(v) for v in value) or "<span class=muted>none</span>"
    if isinstance(value, dict) and any(isinstance(v, (dict, list)) and _nested(v) for v in value.values()):
        rows = "".join(f"<tr><td>{escape(str(k).replace('_', ' '))}</td><td>{_fact(v)}</td></tr>"
                       for k, v in value.items())
        return f"<table class=pairs>{rows}</table>"
    if isinstance(value, dict):
        return _pairs(value, "; ")
    if value is None:
        return "<span class=muted>-</span>"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return escape(str(value))


def _pairs(value: dict[str, Any], sep: str) -> str:
    """A few plain facts on one line, "name: value" joined by sep; a mapping within goes in brackets
    with its own pairs joined by commas, e.g. "survives az loss: (read: yes, write: yes)"."""
    return sep.join(f"{escape(str(key).replace('_', ' '))}: "
                    + (f"({_pairs(inner, ', ')})" if isinstance(inner, dict) else _fact(inner))
                    for key, inner in value.items())


def _nested(value: dict[str, Any] | list[Any]) -> bool:
    """Whether a value holds rows or mappings (a table's worth), not only a few plain values."""
    inner = value.values() if isinstance(value, dict) else value
    return any(isinstance(v, (dict, list)) for v in inner)


def _wall(epoch: float, *, date: bool = False) -> str:
    stamp = time.localtime(epoch)
    text = time.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S", stamp) + f".{int(epoch % 1 * 1000):03d}"
    return text + (time.strftime(" %Z", stamp) if date else "")
