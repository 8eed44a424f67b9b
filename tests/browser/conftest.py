"""Shared fixtures for Playwright journeys: Debian's Chromium, pages, screenshots, login.

Every journey runs against pytest-django's `live_server` (a real HTTP server in a thread, with a
transactional database) and drives the installed Chromium through Playwright's sync API. Nothing
is downloaded: `playwright install` is never needed.

Use in a journey:

    pytestmark = [pytest.mark.browser]

    def test_something(page, live_server, shots, settings):
        page.goto(live_server.url)
        shots.take("home")                    # test-artifacts/browser/<journey>/01-home.png
        login(page, live_server.url, email=..., password=...)

A page fails the test if the browser reports an uncaught JavaScript error or the server answers
any request with a 5xx (see `page`).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
DEFAULT_TIMEOUT_MS = 15_000  # generous: CI machines and busy laptops are slow
PASSWORD = "correct-horse-battery"  # the password tests.factories.UserFactory sets


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Skip browser journeys loudly when Chromium is not installed."""
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module.

    Playwright's sync API runs an asyncio loop in this thread, which makes Django refuse ORM
    calls from the test body ("You cannot call this from an async context"). The test body is
    still plain synchronous code, so the check is switched off while the browser is open and
    restored afterwards; other test modules keep the check.
    """
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class PageProblems:
    """Uncaught JavaScript errors and 5xx answers seen by a page."""

    def __init__(self) -> None:
        self.js_errors: list[str] = []
        self.server_errors: list[str] = []

    def assert_none(self) -> None:
        assert not self.js_errors, f"JavaScript errors in the browser: {self.js_errors}"
        assert not self.server_errors, f"server answered with 5xx: {self.server_errors}"


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def context(browser: Any, live_server: Any, settings: Any) -> Iterator[Any]:
    """A fresh browser profile (no cookies) at a desktop size, English first.

    Links in emails are built from SITE_URL, so it points at the live server.
    """
    settings.SITE_URL = live_server.url
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-US", base_url=live_server.url
    )
    ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
    ctx.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    """Keep each phase's report on the test item, so `page` can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def page(context: Any, page_problems: PageProblems, request: Any) -> Iterator[Any]:
    """A page that records uncaught JS errors and 5xx answers; the test fails if there were any.

    When the test fails, the page as it was is saved to test-artifacts/browser/failures/.
    """
    pg = context.new_page()
    pg.on("pageerror", lambda exc: page_problems.js_errors.append(f"{pg.url}: {exc}"))
    pg.on(
        "response",
        lambda r: r.status >= 500 and page_problems.server_errors.append(f"{r.status} {r.url}"),
    )
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and not pg.is_closed():
        failures = ARTIFACTS / "failures"
        failures.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.nodeid.rsplit("/", 1)[-1])
        pg.screenshot(path=str(failures / f"{name}.png"), full_page=True)
        print(f"\nbrowser was at {pg.url}; screenshot: {failures / name}.png")
    page_problems.assert_none()


class Screenshots:
    """Numbered full-page screenshots: <dir>/01-home.png, 02-signup.png, ..."""

    def __init__(self, page: Any, directory: Path) -> None:
        self.page = page
        self.directory = directory
        self.taken: list[Path] = []

    def take(self, name: str) -> Path:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        path = self.directory / f"{len(self.taken) + 1:02d}-{slug}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


def screenshots_for(page: Any, journey: str) -> Screenshots:
    """Screenshots in test-artifacts/browser/<journey>/, emptied first so old files never linger."""
    directory = ARTIFACTS / journey
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    return Screenshots(page, directory)


@pytest.fixture
def shots(page: Any, request: Any) -> Screenshots:
    """Screenshots for this test, in a folder named after the module: test_applicant_journey.py
    -> test-artifacts/browser/applicant-journey/. Override with @pytest.mark.journey("name")."""
    marker = request.node.get_closest_marker("journey")
    journey = (
        marker.args[0]
        if marker
        else request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    )
    return screenshots_for(page, journey.replace("_", "-"))


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "journey(name): folder for a browser journey's screenshots")


def login(
    page: Any,
    base_url: str,
    *,
    email: str,
    password: str = PASSWORD,
    shots: Screenshots | None = None,
) -> None:
    """Log in through the real login form and wait until the app has redirected away from it.
    With `shots`, the filled-in form is photographed as "login"."""
    page.goto(f"{base_url}/accounts/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(password)
    if shots is not None:
        shots.take("login")
    with page.expect_navigation():
        page.get_by_test_id("login-submit").click()
    assert "/accounts/login/" not in page.url, f"login failed for {email}: still on {page.url}"


def logout(page: Any) -> None:
    """Log out with the header button (a POST form)."""
    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
