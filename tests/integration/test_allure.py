"""Allure for real: a chaos test on a real (minimal) stack with --alluredir, rendered by the Allure 3
report generator (npm package ``allure``, installed into .tools/ by scripts/setup.sh), opened in
headless Chromium: its test page shows the fault steps and the chart, its front page the region
(environment.properties, Allure 3's metadata). A screenshot is kept in
``azchaos-artifacts/allure-test-page.png`` (a CI artifact)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from headless_chromium import open_page

from pytest_azchaos import __version__

ROOT = Path(__file__).resolve().parents[2]
ALLURE = ROOT / ".tools" / "allure" / "node_modules" / ".bin" / "allure"
ARTIFACT = ROOT / "azchaos-artifacts" / "allure-test-page.png"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--window-size=1400,1600"]

CHAOS_TEST = """
import pytest

@pytest.mark.slo(failed_requests=0, p99="5s")
def test_survives_losing_az_a(azchaos):
    with azchaos.traffic(rate_per_s=20):
        azchaos.wait("2s")
        with azchaos.outage("a", mode="power"):
            azchaos.wait("4s")
        azchaos.wait("2s")
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is missing: scripts/setup.sh installs Debian's chromium"
    return found


@contextlib.contextmanager
def served(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (the report loads its data with fetch(), which file:// refuses)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def browse(url: str, *extra: str) -> str:
    return subprocess.run([chromium(), *CHROMIUM_FLAGS, "--virtual-time-budget=15000", *extra, url],
                          capture_output=True, text=True, timeout=180).stdout


@pytest.fixture(scope="module")
def allure_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run one chaos test on the minimal region with --alluredir; return the results folder."""
    folder = tmp_path_factory.mktemp("allure")
    (folder / "test_chaos.py").write_text(CHAOS_TEST)
    results = folder / "allure-results"
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(folder / "test_chaos.py"),
                          "--azchaos-env=minimal", f"--alluredir={results}", f"--rootdir={folder}",
                          f"--azchaos-report={folder / 'azchaos-report'}"],
                         capture_output=True, text=True, timeout=900, cwd=folder)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return results


def test_the_results_hold_the_steps_labels_and_attachments(allure_results: Path) -> None:
    [result] = [json.loads(p.read_text()) for p in allure_results.glob("*-result.json")]
    names = [s["name"] for s in result["steps"]]
    assert names[:3] == ["steady-state check before outage(a, power)", "inject outage(a, power)",
                         "heal outage(a, power)"], names
    assert {("az", "a"), ("fault", "outage(power)"), ("environment", "minimal")} <= {
        (label["name"], label["value"]) for label in result["labels"]}
    attached = {a["name"] for a in result["attachments"]}
    assert {"azchaos timeline chart (SVG)", "azchaos SLO table", "azchaos history", "azchaos events"} <= attached


def test_allure_3_renders_a_test_page_with_the_fault_steps_and_the_chart(allure_results: Path,
                                                                         tmp_path: Path) -> None:
    assert ALLURE.is_file(), f"{ALLURE} is missing: scripts/setup.sh installs the Allure 3 CLI (npm 'allure@3')"
    report = tmp_path / "allure-report"
    generated = subprocess.run([str(ALLURE), "generate", str(allure_results), "--output", str(report)],
                               capture_output=True, text=True, timeout=300)
    assert generated.returncode == 0 and (report / "index.html").is_file(), generated.stdout + generated.stderr
    [result] = [json.loads(p.read_text()) for p in allure_results.glob("*-result.json")]
    with served(report) as base:
        page = f"{base}/#{result_id(report, result)}"
        dom = browse(page, "--dump-dom")
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        browse(page, f"--screenshot={ARTIFACT}")
        opened = open_page(page, probe=OPEN_THE_CHART, timeout_s=120).value
    # What a person sees on clicking the chart attachment: the picture, drawn (a width once decoded).
    assert isinstance(opened, list) and any(width > 100 for width in opened), opened
    for shown in ("test_survives_losing_az_a", "inject outage(a, power)", "heal outage(a, power)",
                  "steady-state check before outage(a, power)", "azchaos timeline chart"):
        assert shown in dom, f"{shown!r} is not on the test page {page}"
    assert ARTIFACT.stat().st_size > 10_000


def test_allure_3_shows_the_region_as_the_reports_metadata(allure_results: Path, tmp_path: Path) -> None:
    report = tmp_path / "allure-report"
    generated = subprocess.run([str(ALLURE), "generate", str(allure_results), "--output", str(report)],
                               capture_output=True, text=True, timeout=300)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    read = {e["name"]: e["values"] for e in json.loads((report / "widgets" / "allure_environment.json").read_text())}
    assert read["minimal AZs"] == ["a, b"] and read["pytest-azchaos"] == [__version__]
    assert read["minimal lb"][0].startswith("azchaos/nginx:")  # the image the LB ran, as Allure parsed it
    with served(report) as base:
        front = browse(f"{base}/", "--dump-dom")
    assert "Metadata" in front and "minimal AZs" in front, "the region is not on the report's front page"


# Wait for the test page to render the attachment "azchaos timeline chart", click it, and return
# the decoded widths of the images that appear (Allure 3 shows an SVG attachment as an <img>).
OPEN_THE_CHART = r"""(async () => {
  const sleep = ms => new Promise(done => setTimeout(done, ms));
  const entry = () => [...document.querySelectorAll("*")].find(
      e => e.children.length === 0 && /azchaos timeline chart/.test(e.textContent));
  for (let i = 0; i < 150 && !entry(); i++) await sleep(200);
  if (!entry()) return "no attachment called azchaos timeline chart";
  entry().click();
  for (let i = 0; i < 100; i++) {
    await sleep(200);
    const widths = [...document.querySelectorAll("img")].map(img => img.naturalWidth).filter(w => w > 0);
    if (widths.length) return widths;
  }
  return "no picture after opening the chart";
})()"""


def result_id(report: Path, result: dict[str, object]) -> str:
    """The id Allure 3 gives the test's page (its data file is data/test-results/<id>.json)."""
    for path in (report / "data" / "test-results").glob("*.json"):
        if json.loads(path.read_text()).get("name") == result["name"]:
            return path.stem
    raise AssertionError(f"no page for {result['name']!r} in {report}")
