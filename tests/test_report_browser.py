"""The compliance report in a real headless Chromium, opened from disk as an operator would.

Needs the ``playwright`` Python package and a Chromium binary (Debian: ``apt-get install
chromium``; no ``playwright install``: the test drives the system browser). Without them
the tests skip, except under CI=true, where .ci/run installs Chromium and a skip would hide
a missing check. ``CONFORMANCE_CHROMIUM`` names another binary. With UPDATE_SNAPSHOTS=1 (or
when it is missing) the screenshot the README shows, docs/report-screenshot.png, is refreshed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from report_records import UPDATE, record

from conformance.reporting.html import write_html
from conformance.requirements import catalogue

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "report-screenshot.png"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the browser test (.ci/run installs chromium)", pytrace=False)
    pytest.skip(reason)


def chromium_binary() -> str | None:
    named = os.environ.get("CONFORMANCE_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_html(record(), tmp_path_factory.mktemp("report") / "report.html")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed (pip install playwright)")
    executable = chromium_binary()
    if executable is None:
        _unavailable("no Chromium binary (apt-get install chromium, or set CONFORMANCE_CHROMIUM)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1000},
            timeout=60_000,
        )
        try:
            yield context
        finally:
            context.close()


class Opened:
    """A page showing the report, with every request and console error it caused."""

    def __init__(self, context: BrowserContext, report: Path) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        context.on("request", lambda r: self.requests.append(r.url))
        self.page: Page = context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.url = report.as_uri()
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def shown(self) -> str:
        return self.page.locator("#filter-status").inner_text()

    def visible(self, selector: str) -> int:
        return sum(1 for el in self.page.locator(selector).all() if el.is_visible())


@pytest.fixture
def opened(browser: BrowserContext, report: Path) -> Iterator[Opened]:
    view = Opened(browser, report)
    yield view
    # the page loaded nothing but itself, and nothing it tried was blocked or broke
    assert view.requests == [view.url]
    assert view.errors == []
    view.page.close()


def test_counts_are_visible_and_right(opened: Opened) -> None:
    data = record()
    for verdict in ("PASS", "FAIL", "WARN", "N/A", "INCONCLUSIVE", "ERROR"):
        tile = opened.page.locator(f'[data-count="cases-{verdict}"]')
        assert tile.is_visible()
        assert tile.inner_text() == str(sum(1 for c in data["cases"] if c["verdict"] == verdict))
    assert opened.page.locator('[data-count="cases-total"]').inner_text() == str(len(data["cases"]))
    not_covered = sum(1 for r in data["coverage"] if r["state"] == "not-covered")
    assert opened.page.locator('[data-count="requirements-not-covered"]').inner_text() == str(not_covered)
    assert opened.page.locator("svg.chart").is_visible()
    assert opened.shown() == "16 of 16 cases shown"


def test_a_failed_case_is_open_and_shows_its_evidence(opened: Opened) -> None:
    page = opened.page
    failed = page.locator('details.case[data-verdict="FAIL"]')
    assert failed.count() == 2
    for i in range(failed.count()):
        assert failed.nth(i).evaluate("d => d.open") is True
    sibling = page.locator('details.case[data-verdict="FAIL"]', has_text="acme-ees-sibling")
    assert sibling.get_by_text("The harness broke this on purpose: token aud = sibling-of.ees.acme.test").is_visible()
    assert sibling.locator(".evidence.token").get_by_text("sibling-of.ees.acme.test", exact=True).is_visible()
    assert sibling.locator(".evidence.http .status").inner_text() == "201"
    assert sibling.get_by_text("conformance run --target acme-ees.toml --req EES-TOK-05", exact=True).is_visible()
    passed = page.locator('details.case[data-verdict="PASS"]', has_text="acme-ecs-rogue-same-dn")
    assert passed.evaluate("d => d.open") is False
    alert = passed.locator(".alert", has_text="TLSV1_ALERT_UNKNOWN_CA")
    assert not alert.is_visible()
    passed.locator("> summary").click()
    assert alert.is_visible()


def test_verdict_filter_hides_and_shows_rows(opened: Opened) -> None:
    page = opened.page
    fail_box = page.locator('input[data-filter="verdict"][value="FAIL"]')
    fail_box.uncheck()
    assert opened.visible('details.case[data-verdict="FAIL"]') == 0
    assert opened.visible('tr[data-verdict="FAIL"]') == 0
    assert opened.visible('details.case[data-verdict="PASS"]') == 9
    assert opened.shown() == "14 of 16 cases shown"
    fail_box.check()
    assert opened.visible('details.case[data-verdict="FAIL"]') == 2
    assert opened.visible('tr[data-verdict="FAIL"]') == 2
    page.locator('button[data-action="none"][data-kind="verdict"]').click()
    assert opened.shown() == "0 of 16 cases shown"
    page.locator('input[data-filter="verdict"][value="not-covered"]').check()
    assert opened.visible("details.case") == 0
    assert opened.visible('tr[data-verdict="not-covered"]') == sum(
        r["state"] == "not-covered" for r in record()["coverage"]
    )
    page.locator('button[data-action="all"][data-kind="verdict"]').click()
    assert opened.shown() == "16 of 16 cases shown"


def test_clause_filter_hides_and_shows_rows(opened: Opened) -> None:
    page = opened.page
    box = page.locator('input[data-filter="clause"][value="6.2"]')
    box.uncheck()
    assert opened.shown() == "8 of 16 cases shown"
    assert opened.visible('details.case[data-clause="6.2"]') == 0
    assert opened.visible('details.case[data-clause="6.3"]') == 8
    assert opened.visible('tr[data-clause="6.2"]') == 0
    assert opened.visible('tr[data-clause="6.3"]') == sum(r.clause == "6.3" for r in catalogue().values())
    assert not page.locator("#clause-6\\.2").is_visible()
    box.check()
    assert opened.visible('tr[data-clause="6.2"]') == sum(r.clause == "6.2" for r in catalogue().values())
    assert opened.shown() == "16 of 16 cases shown"


def test_screenshot_for_the_readme(opened: Opened, tmp_path: Path) -> None:
    shot = tmp_path / "report-screenshot.png"
    opened.page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if UPDATE or not SCREENSHOT.exists():
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
