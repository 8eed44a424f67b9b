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
import time
from collections.abc import Iterator
from datetime import date
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
    """Log out with the header button (a POST form), whatever the interface language."""
    with page.expect_navigation():
        page.locator(".site-header form[action$='/logout/']").get_by_role("button").click()


def make_user(email: str, full_name: str, role: str) -> Any:
    """A person with the tests' password (PASSWORD), a verified email and the given role."""
    from tests.factories import UserFactory

    return UserFactory.create(email=email, full_name=full_name, role=role)


def click_and_wait(page: Any, test_id: str) -> None:
    """Click a submit button and wait for the page it leads to (POST-redirect-GET or re-render)."""
    with page.expect_navigation():
        page.get_by_test_id(test_id).click()


def field_error(page: Any, field: str) -> Any:
    """The error message shown next to a form field."""
    return page.locator(f"#field-{field} .error-message")


def nav(page: Any, name: str) -> None:
    """Follow a link of the header's main navigation."""
    with page.expect_navigation():
        page.locator(".main-nav").get_by_role("link", name=name, exact=True).click()


# Languages ------------------------------------------------------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")


def zh(message: str) -> str:
    """`message` as the Simplified Chinese catalogue translates it; fails if it does not, so a
    journey that expects Chinese text also proves the catalogue has it."""
    from django.utils import translation

    with translation.override("zh-hans"):
        translated = translation.gettext(message)
    assert translated != message and CJK.search(translated), f"no Chinese for {message!r}"
    return translated


def switch_language(page: Any, language: str) -> None:
    """Use the header's language button ("en" or "zh-hans") and wait for the page to come back
    in that language; a signed-in person's choice is kept on the account."""
    with page.expect_navigation():
        page.get_by_test_id("lang-en" if language == "en" else "lang-zh").click()
    expect_lang(page, language)


def expect_lang(page: Any, language: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator("html")).to_have_attribute("lang", language)


def take_in_both_languages(page: Any, shots: Screenshots, name: str) -> None:
    """Photograph the page in its language, then in the other one, and switch back: <name>-en and
    <name>-zh-hans. Only for pages a GET shows again as they are (not a form being filled)."""
    first = page.locator("html").get_attribute("lang")
    other = "en" if first == "zh-hans" else "zh-hans"
    shots.take(f"{name}-{first}")
    switch_language(page, other)
    shots.take(f"{name}-{other}")
    switch_language(page, first)


# Officers -------------------------------------------------------------------------------------


def open_queue(
    page: Any, name: str, title: str, shots: Screenshots | None = None, who: str = ""
) -> None:
    """From anywhere: the header's "Work queues", then one queue's card (with `shots`, the
    work-queues page is photographed first, as [<who>-]work-queues-<name>). The queue must hold
    exactly one application."""
    from playwright.sync_api import expect

    nav(page, "Work queues")
    expect(page.get_by_role("heading", level=1)).to_have_text("Work queues")
    card = page.get_by_test_id(f"queue-{name}")
    expect(card).to_contain_text(title)
    expect(card.locator(".queue-count")).to_have_text("1")
    if shots is not None:
        shots.take(f"{who}-work-queues-{name}" if who else f"work-queues-{name}")
    with page.expect_navigation():
        card.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def open_application(page: Any, reference: str, organization: str) -> None:
    """Open an application from a queue's or list's table row."""
    from playwright.sync_api import expect

    row = page.locator("table.data tbody tr", has_text=reference)
    expect(row).to_contain_text(organization)
    with page.expect_navigation():
        row.get_by_role("link", name=reference).click()


def declare_no_conflict(
    page: Any, shots: Screenshots, who: str, *, organization: str, hidden: str
) -> None:
    """The conflict gate: only the organization is shown (not `hidden`, something the applicant
    wrote) until the officer declares no conflict of interest."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("coi-organization")).to_have_text(organization)
    expect(page.get_by_test_id("submitted-answers")).to_have_count(0)
    expect(page.get_by_text(hidden)).to_have_count(0)
    shots.take(f"{who}-conflict-gate")
    page.check("input[name=has_conflict][value=no]")
    click_and_wait(page, "declare-conflict")
    expect(page.get_by_test_id("submitted-answers")).to_be_visible()


# Providers ------------------------------------------------------------------------------------


def open_claim_form(page: Any, provider_name: str) -> None:
    """From anywhere, as provider staff: the claims portal, then a new claim."""
    from playwright.sync_api import expect

    nav(page, "Claims portal")
    expect(page.get_by_role("heading", level=1)).to_have_text(provider_name)
    click_and_wait(page, "new-claim")
    expect(page.get_by_role("heading", level=1)).to_have_text("Submit a claim")


def fill_claim(page: Any, claim: dict[str, Any], *, code: str, period: date) -> None:
    """Fill the claim form: claim = {reference, invoice, total, lines: [(chips, hours, amount,
    description), ...]}, amounts as people type them."""
    page.fill("#id_voucher_code", code)
    page.fill("#id_reference", claim["reference"])
    page.fill("#id_invoice_number", claim["invoice"])
    page.fill("#id_invoice_total_cents", claim["total"])
    page.fill("#id_currency", "CNY")
    page.fill("#id_service_period_start", period.isoformat())
    page.fill("#id_service_period_end", period.isoformat())
    for i, (chips, hours, amount, description) in enumerate(claim["lines"]):
        page.select_option(f"#id_lines-{i}-chip_origin", chips)
        page.fill(f"#id_lines-{i}-gpu_hours", hours)
        page.fill(f"#id_lines-{i}-amount_cents", amount)
        page.fill(f"#id_lines-{i}-description", description)


# Reports --------------------------------------------------------------------------------------


@pytest.fixture
def slow_worker(monkeypatch: Any) -> list[int]:
    """The worker reports progress in four steps a little apart before rendering, as a big
    report would, so the page has time to show the bar moving. Returns what it reported."""
    from reports import services

    real = services.render_report
    reported: list[int] = []

    def render_slowly(meta: Any, *, progress: Any) -> Any:
        for step in range(1, 5):
            time.sleep(0.8)
            progress(step, 5)
            reported.append(step)
        return real(meta, progress=lambda done, total: None)

    monkeypatch.setattr(services, "render_report", render_slowly)
    return reported


def watch_report_progress(
    page: Any, shots: Screenshots, name: str = "rendering", timeout: float = 60
) -> list[int]:
    """On a report's page: follow the progress bar (the page polls the status JSON) until the
    page reloads with the downloads; photograph the bar once mid-way, as `name`. Returns the
    values seen."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not page.get_by_test_id("downloads").count():
        try:
            value = page.get_by_test_id("progress").get_attribute("aria-valuenow", timeout=300)
        except PlaywrightError:  # the page is reloading
            value = None
        if value is not None and (not seen or int(value) != seen[-1]):
            seen.append(int(value))
            if 0 < seen[-1] < 100 and len(seen) == 2:
                shots.take(name)
        page.wait_for_timeout(100)
    expect(page.get_by_test_id("downloads")).to_be_visible()
    expect(page.get_by_test_id("progress")).to_have_count(0)
    return seen
