"""The Content-Security-Policy breaks nothing: real pages in Chromium report no violation.

Every role's main pages (seeded with seed_demo) are opened in Debian's Chromium; a console
message saying that the policy refused something fails the test, as do JavaScript errors.
"""

from typing import Any

import pytest

from accounts.models import User
from tests.browser.conftest import (  # noqa: F401  (fixtures)
    browser,
    context,
    login,
    page,
    page_problems,
)
from tests.security.routes import seeded_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES: dict[Any, list[str]] = {
    None: ["/", "/programs/", "/accounts/login/", "/accounts/signup/", "/about/"],
    User.Role.APPLICANT: [
        "/portal/",
        "/portal/applications/{application}/",
        "/portal/applications/{application}/receipt/1/",
        "/portal/vouchers/{voucher}/",
        "/accounts/settings/",
        "/accounts/second-factor/",
    ],
    User.Role.REVIEWER: [
        "/officer/",
        "/officer/applications/",
        "/officer/applications/{application}/",
    ],
    User.Role.APPROVER: ["/officer/vouchers/{voucher}/", "/officer/claims/"],
    User.Role.FINANCE: ["/finance/", "/finance/payouts/{payout}/", "/reconciliation/"],
    User.Role.PROVIDER: ["/provider/", "/provider/claims/new/"],
    User.Role.AUDITOR: ["/audit/", "/audit/timeline/voucher/{voucher}/", "/reports/"],
    User.Role.ADMIN: [
        "/admin/",
        "/admin/accounts/user/",
        "/admin/accounts/user/{applicant}/change/",
        "/admin/vouchers/program/",
    ],
}


def _violations(pg: Any, found: list[str]) -> None:
    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            found.append(f"{pg.url}: {message.text}")

    pg.on("console", on_console)


def test_pages_of_every_role_have_no_csp_violation(page, context, live_server, settings):  # noqa: F811
    settings.TWO_FACTOR_REQUIRED = False
    world = seeded_world()
    ids = {
        "application": world["application"],
        "voucher": world["voucher"],
        "payout": world["payout"],
        "applicant": world["users"][User.Role.APPLICANT].pk,
    }
    found: list[str] = []
    _violations(page, found)
    for role, paths in PAGES.items():
        context.clear_cookies()
        if role is not None:
            user = world["users"][role]
            user.set_password("correct-horse-battery")
            user.save(update_fields=["password"])
            login(page, live_server.url, email=user.email)
        for path in paths:
            response = page.goto(live_server.url + path.format(**ids))
            assert response is not None and response.status < 400, (role, path, response.status)
            assert response.headers.get("content-security-policy"), path
            page.wait_for_load_state("load")
    assert not found, "\n".join(found)


@pytest.mark.urls("tests.security.urls_swagger")
def test_swagger_ui_runs_under_the_policy(page, live_server):  # noqa: F811
    """The API docs as SpectacularSwaggerSplitView serves them: Swagger UI from the installed
    package, started by a script file, styled by files."""
    found: list[str] = []
    _violations(page, found)
    page.goto(live_server.url + "/api/docs/")
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)
    assert not found, "\n".join(found)
