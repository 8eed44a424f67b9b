"""An applicant's whole first visit, in a real Chromium: sign up, confirm the email, register the
company, draft an application over two sessions, submit it and get a receipt, read it in Chinese.

Screenshots of every step: test-artifacts/browser/applicant-journey/NN-step.png
Run: .venv/bin/python -m pytest tests/browser -q
"""

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import User
from applicants.models import Application, ApplicationVersion, Document, Organization
from notifications.models import Notification
from tests.browser.conftest import CJK, click_and_wait, field_error, login, logout
from tests.factories import ProgramFactory, ProviderFactory, pdf_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "mei.chen@example.com"
PASSWORD = "tea-kettle-lantern-42"
VALID_USCC = "91350100M000100Y43"
WRONG_CHECK_USCC = "91350100M000100Y44"  # same code, wrong GB 32100-2015 check character
# The first bytes of a Windows executable: what a renamed .exe looks like to the server.
EXE_BYTES = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 240
    + b"This program cannot be run in DOS mode."
)


def test_applicant_signs_up_drafts_over_two_sessions_and_submits(
    page: Any, live_server: Any, shots: Any
) -> None:
    base = live_server.url
    provider = ProviderFactory(
        short_name="Shanghai AI Compute Centre", chip_origins=["domestic", "foreign"]
    )
    program = ProgramFactory(name="Shanghai AI Compute Vouchers 2025", providers=[provider])

    # 1. The home page shows the open program and leads to sign-up.
    page.goto(base + "/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Compute vouchers for AI startups")
    expect(page.get_by_role("link", name=program.name)).to_be_visible()
    shots.take("home")
    with page.expect_navigation():
        page.get_by_role("link", name="Create an account to apply").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    shots.take("signup")
    page.fill("#id_full_name", "Chen Mei")
    page.fill("#id_email", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password_confirm", PASSWORD)
    shots.take("signup-filled")
    click_and_wait(page, "signup-submit")
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(page.locator(".messages")).to_contain_text("We sent a confirmation link to " + EMAIL)
    expect(page.locator(".banner.warning")).to_contain_text("Confirm your email address")
    user = User.objects.get(email=EMAIL)
    assert user.is_applicant and not user.has_verified_email
    shots.take("dashboard-unconfirmed")

    # 2. The confirmation link comes from the outbox row, pointing at this server.
    notification = Notification.objects.get(kind="email_verification", recipient_email=EMAIL)
    match = re.search(r"https?://\S+/accounts/verify/\S+/", notification.body_text)
    assert match, f"no verification link in the email:\n{notification.body_text}"
    link = match.group(0)
    assert link.startswith(base), f"the link should use SITE_URL ({base}): {link}"
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(page.locator(".messages")).to_contain_text(f"{EMAIL} is confirmed")
    expect(page.locator(".banner.warning")).to_have_count(0)
    user.refresh_from_db()
    assert user.has_verified_email
    shots.take("email-confirmed")

    # 3. Register the organization; a code with a wrong check character is refused inline.
    with page.expect_navigation():
        page.get_by_test_id("create-organization").click()
    page.fill("#id_legal_name", "Shanghai Example Intelligent Technology Co., Ltd.")
    page.fill("#id_registration_number", WRONG_CHECK_USCC)
    page.select_option("#id_region", "CN-SH")
    page.fill("#id_incorporated_on", "2023-03-01")
    page.fill("#id_headcount", "12")
    page.fill("#id_annual_revenue_cents", "0")
    shots.take("organization-filled")
    click_and_wait(page, "organization-submit")
    expect(field_error(page, "registration_number")).to_be_visible()
    expect(field_error(page, "registration_number")).to_contain_text(
        re.compile("check character", re.I)
    )
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#id_legal_name")).to_have_value(
        "Shanghai Example Intelligent Technology Co., Ltd."
    )
    assert not Organization.objects.exists(), (
        "a code with a wrong check character must not be saved"
    )
    shots.take("organization-wrong-check-character")
    page.fill("#id_registration_number", VALID_USCC)
    click_and_wait(page, "organization-submit")
    expect(page.locator(".messages")).to_contain_text("is registered")
    organization = Organization.objects.get()
    assert organization.registration_number == VALID_USCC
    shots.take("organization-registered")

    # 4a. Open the program, apply, answer the project step and save the draft.
    with page.expect_navigation():
        page.get_by_role("link", name=program.name).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(program.name)
    shots.take("program")
    click_and_wait(page, "apply")
    expect(page.get_by_role("heading", level=1)).to_contain_text(program.name)
    shots.take("start-application")
    click_and_wait(page, "start-application")
    expect(page.get_by_role("heading", level=1)).to_have_text("Project")
    page.fill("#id_title", "Legal-domain LLM fine-tuning")
    page.fill(
        "#id_summary", "We fine-tune an open 14B model to review Chinese commercial contracts."
    )
    page.fill(
        "#id_description",
        "Data: 2 million public judgments. Team of six. Evaluation on a held-out set.",
    )
    # Needed to submit, so the label must not call it "optional".
    expect(page.locator("#field-title .optional")).to_have_count(0)
    shots.take("project-filled")
    click_and_wait(page, "save-draft")
    expect(page.locator(".messages")).to_contain_text("Draft saved")
    expect(page.locator("#id_title")).to_have_value("Legal-domain LLM fine-tuning")
    application = Application.objects.get()
    assert application.status == Application.Status.DRAFT
    assert application.title == "Legal-domain LLM fine-tuning"
    shots.take("draft-saved")

    # 4b. Leave: go to the dashboard, log out, log in again, and find the draft there.
    with page.expect_navigation():
        page.get_by_role("link", name="My applications").click()
    logout(page)
    expect(page.get_by_role("link", name="Log in").first).to_be_visible()
    shots.take("logged-out")
    login(page, base, email=EMAIL, password=PASSWORD, shots=shots)
    page.goto(base + "/portal/")
    row = page.locator("table.data tbody tr", has_text=application.reference)
    expect(row).to_contain_text("Legal-domain LLM fine-tuning")
    expect(row).to_contain_text("Draft")
    shots.take("dashboard-with-draft")
    with page.expect_navigation():
        row.get_by_role("link", name=application.reference).click()
    shots.take("draft-detail")
    with page.expect_navigation():
        page.get_by_test_id("continue-draft").click()
    expect(page.locator("#id_summary")).to_have_value(re.compile("open 14B model"))
    click_and_wait(page, "save-continue")

    # 4c. Compute plan.
    expect(page.get_by_role("heading", level=1)).to_have_text("Compute plan")
    page.fill("#id_gpu_hours", "46080")
    page.fill("#id_gpu_model", "Ascend 910B")
    page.select_option("#id_chip_origin", "domestic")
    page.select_option("#id_intended_provider", label=provider.short_name)
    page.fill(
        "#id_compute_plan", "64 cards for 30 days of supervised fine-tuning, then evaluation."
    )
    shots.take("compute")
    click_and_wait(page, "save-continue")

    # 4d. Funding: above the ceiling is refused next to the field; a valid amount is kept.
    expect(page.get_by_role("heading", level=1)).to_have_text("Funding")
    page.fill("#id_requested_amount_cents", "300000.00")
    click_and_wait(page, "save-continue")
    expect(page.get_by_role("heading", level=1)).to_have_text("Funding")
    expect(field_error(page, "requested_amount_cents")).to_be_visible()
    application.refresh_from_db()
    assert application.requested_amount_cents is None, (
        "an amount above the ceiling must not be saved"
    )
    shots.take("funding-above-ceiling")
    page.fill("#id_requested_amount_cents", "150000.00")
    shots.take("funding-valid")
    click_and_wait(page, "save-continue")
    application.refresh_from_db()
    assert application.requested_amount_cents == 150_000_00

    # 4e. Documents: a renamed executable is refused by content; a real PDF is accepted.
    expect(page.get_by_role("heading", level=1)).to_have_text("Documents")
    shots.take("documents")
    page.select_option("#id_kind", "business_licence")
    page.set_input_files(
        "#id_file",
        {"name": "business-licence.pdf", "mimeType": "application/pdf", "buffer": EXE_BYTES},
    )
    click_and_wait(page, "upload")
    expect(page.locator(".error-summary")).to_be_visible()
    expect(field_error(page, "file")).to_be_visible()
    assert not Document.objects.exists(), "a renamed executable must not be stored"
    shots.take("documents-executable-refused")
    page.select_option("#id_kind", "business_licence")
    page.set_input_files(
        "#id_file",
        {"name": "business-licence.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()},
    )
    click_and_wait(page, "upload")
    expect(page.locator(".messages")).to_contain_text("business-licence.pdf uploaded")
    expect(page.locator("table.data")).to_contain_text("business-licence.pdf")
    assert Document.objects.filter(application=application, kind="business_licence").count() == 1
    shots.take("documents-uploaded")
    click_and_wait(page, "save-continue")

    # 4f. Declarations.
    expect(page.get_by_role("heading", level=1)).to_have_text("Declarations")
    page.check("#id_declares_truthful")
    page.check("#id_declares_no_double_funding")
    page.check("#id_declares_no_provider_affiliation")
    page.fill("#id_declared_by_name", "Chen Mei")
    shots.take("declarations")
    click_and_wait(page, "save-continue")

    # 4g. Review and submit.
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your answers")
    expect(page.locator(".error-summary")).to_have_count(0)
    expect(page.get_by_test_id("requested-amount")).to_contain_text("150,000.00")
    submit = page.get_by_test_id("submit-application")
    expect(submit).to_be_enabled()
    shots.take("review")
    # An impatient double click: the page sends one request, the server makes one version.
    submit_posts: list[str] = []
    page.on(
        "request",
        lambda r: r.method == "POST" and r.url.endswith("/submit/") and submit_posts.append(r.url),
    )
    with page.expect_navigation():
        submit.dblclick()

    # 5. The receipt: reference number and timestamp; one frozen version; the application is locked.
    expect(page).to_have_url(re.compile(rf"/portal/applications/{application.pk}/receipt/1/$"))
    application.refresh_from_db()
    version = ApplicationVersion.objects.get()
    expect(page.get_by_test_id("receipt-number")).to_have_text(version.receipt_number)
    expect(page.get_by_test_id("reference")).to_have_text(application.reference)
    expect(page.get_by_test_id("submitted-at")).to_contain_text(str(version.submitted_at.year))
    expect(page.get_by_test_id("receipt")).to_contain_text("CNY 150,000.00")
    assert version.receipt_number.startswith(application.reference)
    assert (
        application.status == Application.Status.IN_REVIEW
    )  # screened on submit: every rule passed
    assert application.version == 1
    assert ApplicationVersion.objects.filter(application=application).count() == 1
    assert len(submit_posts) == 1, f"the double click sent {len(submit_posts)} submit requests"
    shots.take("receipt")

    with page.expect_navigation():
        page.get_by_role("link", name="Follow the application").click()
    expect(page.locator("h1 + p .status")).to_contain_text("In review")
    expect(page.get_by_text("Submitted and locked")).to_be_visible()
    expect(page.get_by_test_id("continue-draft")).to_have_count(0)
    expect(page.locator(f"a[href*='/portal/applications/{application.pk}/edit/']")).to_have_count(0)
    expect(page.get_by_role("link", name="Change")).to_have_count(0)
    shots.take("application-locked")

    # Double submit: replaying the submit (a second tab, a stale form) makes no second version,
    # and the wizard pages send the applicant back to the locked application.
    page.goto(f"{base}/portal/applications/{application.pk}/edit/project/")
    expect(page).to_have_url(re.compile(rf"/portal/applications/{application.pk}/$"))
    expect(page.locator(".messages")).to_contain_text("submitted and locked")
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    replay = page.request.post(
        f"{base}/portal/applications/{application.pk}/submit/",
        headers={"X-CSRFToken": csrf, "Referer": base + "/"},
        max_redirects=0,
    )
    assert replay.status in (302, 303), replay.status
    assert ApplicationVersion.objects.filter(application=application).count() == 1

    # 6. Chinese: the header button switches the interface and stays on the same page.
    with page.expect_navigation():
        page.get_by_test_id("lang-zh").click()
    expect(page).to_have_url(re.compile(rf"/portal/applications/{application.pk}/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_test_id("lang-en")).to_be_visible()
    user.refresh_from_db()
    assert user.preferred_language == "zh-hans"
    # Django's own catalogue translates the header's "Log out"; ours translates the page itself.
    expect(page.locator(".site-header")).to_contain_text(CJK)
    if _has_chinese_catalogue():
        expect(page.locator("main")).to_contain_text(CJK)
    shots.take("application-in-chinese")
    page.goto(base + "/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    shots.take("home-in-chinese")


def _has_chinese_catalogue() -> bool:
    """True once the project ships its own Simplified Chinese translations (locale/zh_Hans)."""
    return any(
        (Path(p) / "zh_Hans" / "LC_MESSAGES" / "django.mo").exists() for p in settings.LOCALE_PATHS
    )
