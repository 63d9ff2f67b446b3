"""The HTML report of a real run, opened as a person opens it: in headless Chromium (Debian's), from
the file, offline. No console error or failed load, every test's chart and events on the page, and a
screenshot kept as an artifact in $AZCHAOS_ARTIFACTS (default: azchaos-artifacts/) under report-html/;
and the same with the hand-written chart (without matplotlib), re-rendered by ``azchaos report``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from headless_chromium import Page, open_page

from pytest_azchaos import report_schema

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "environments" / "minimal.yaml"
ARTIFACTS = Path(os.environ.get("AZCHAOS_ARTIFACTS", ROOT / "azchaos-artifacts")) / "report-html"

TESTS = """
import pytest

# A long parametrized id with nowhere to wrap (no space or hyphen): the page must still fit its width.
@pytest.mark.slo(failed_requests=0)
@pytest.mark.parametrize("rate", [20], ids=["twenty_requests_a_second_through_the_load_balancer"
                                            "_while_az_a_has_no_power"])
def test_outage_of_az_a(azchaos, rate):
    with azchaos.traffic(rate_per_s=rate):
        azchaos.wait("2s")
        with azchaos.outage("a", mode="power"):
            azchaos.wait("3s")
        azchaos.wait("1s")

@pytest.mark.slo(p99="1ms")
def test_impossible_latency(azchaos):
    with azchaos.traffic(rate_per_s=20):
        azchaos.wait("2s")
"""

# What a person sees of each test: its name, the drawn size of its chart, and its events table;
# and how far the page reaches past the window's width (Chromium's default window, 800 px).
PROBE = """({sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth,
tests: Array.from(document.querySelectorAll('section.test')).map(s => {
  const svg = s.querySelector('.chart svg'), events = s.querySelector('.events');
  const table = s.querySelector('.events table');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  return {test: s.dataset.test, chart: [box.width, box.height],
          events: table ? Array.from(table.rows).slice(1)
                                .map(r => r.cells[2].textContent + ' ' + r.cells[3].textContent) : [],
          shown: events ? events.getBoundingClientRect().height : 0};
})})"""


@pytest.mark.usefixtures("leaves_nothing_behind")
def test_the_report_of_a_real_run_opens_in_chromium_with_every_chart_and_event(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_region=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--azchaos-env={MINIMAL}",
                                           "--azchaos-report=out", timeout=900)
    result.assert_outcomes(passed=1, failed=1)
    folder = pytester.path / "out"
    report_schema.load(folder / "report.json")
    page = open_page((folder / "report.html").as_uri(), probe=PROBE)
    keep(folder, page.screenshot)
    shows_every_test(page)
    # The same report re-rendered with the hand-written chart (no matplotlib): it must show as well.
    fallback = folder / "fallback.html"
    subprocess.run([sys.executable, "-m", "pytest_azchaos.cli", "report", str(folder / "report.json"), "-o",
                    str(fallback)], check=True, env={**os.environ, "AZCHAOS_CHART": "svg"}, timeout=120)
    assert 'class="azchaos-chart"' in fallback.read_text()
    page = open_page(fallback.as_uri(), probe=PROBE)
    (ARTIFACTS / "report-svg-fallback.png").write_bytes(page.screenshot)
    shows_every_test(page)


def shows_every_test(page: Page) -> None:
    """No console error or failed load; each test drawn with its chart and events, the failure first;
    nothing wider than the window."""
    assert page.errors == []
    assert page.value["sideways"] <= 0, f"the page is {page.value['sideways']} px wider than the window"
    shown = {t["test"].split("::")[-1].partition("[")[0]: t for t in page.value["tests"]}
    assert list(shown) == ["test_impossible_latency", "test_outage_of_az_a"]  # the failure first
    for test in shown.values():
        width, height = test["chart"]
        assert width > 400 and height > 200, test  # drawn, not an empty box
        assert test["shown"] > 0, test  # the events table, or the line saying there was none
    outage = shown["test_outage_of_az_a"]["events"]
    assert "inject outage(a, power)" in outage and "heal outage(a, power)" in outage
    assert any(e.startswith("target app-a-") for e in outage)  # what the watch saw: AZ a's targets


def keep(folder: Path, screenshot: bytes) -> None:
    """Keep the screenshot, and the report it shows, where CI collects artifacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report.png").write_bytes(screenshot)
    for name in ("report.html", "report.json"):
        shutil.copy(folder / name, ARTIFACTS / name)


def test_chromium_sees_console_errors_and_failed_loads(tmp_path: Path) -> None:
    """The negative control of the check above: a page with an error must not pass it."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!doctype html><title>bad</title><script>console.error('boom')</script><img src='gone.png'>")
    page = open_page(bad.as_uri())
    assert page.value == "bad" and page.screenshot.startswith(b"\x89PNG")
    assert "console.error: boom" in page.errors
    assert any("ERR_FILE_NOT_FOUND" in e and "gone.png" in e for e in page.errors)
