"""One voucher from sign-up to the auditor's report, in a real Chromium, every step through the
pages people use: a Beijing startup signs up and applies in Chinese to a Shanghai program; an
approver screens it (overrides the failed region rule) and assigns a reviewer; the reviewer
declares no conflict and scores it; the approver (not the reviewer: four eyes) approves; the
startup downloads the award letter and accepts it; the provider claims with the voucher code;
finance officer A prepares the payout and B approves it (four eyes); an auditor requests the
program summary, watches it render on a real Celery worker and checks the PDF's totals.

Only the program, the provider and the staff accounts are seeded; the startup's account,
organization, application, voucher, claim and payout are all made through the browser. The
applicant's pages are photographed in both languages (the applicant works in Chinese), the staff
pages in English.

Screenshots of every step: test-artifacts/browser/full_journey/NN-step.png
Run: .venv/bin/python -m pytest tests/browser/test_full_journey.py -q
"""

import hashlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from accounts.models import User
from applicants.models import Application
from core.money import format_money
from disbursement.models import Claim, Payout
from disbursement.services.providers import provider_staff_add
from notifications.models import Notification
from reports.models import Report
from tests.browser.conftest import (
    CJK,
    click_and_wait,
    declare_no_conflict,
    expect_lang,
    fill_claim,
    login,
    logout,
    make_user,
    nav,
    open_application,
    open_claim_form,
    open_queue,
    screenshots_for,
    switch_language,
    take_in_both_languages,
    watch_report_progress,
    zh,
)
from tests.conftest import require_redis
from tests.factories import ProgramFactory, ProviderFactory, make_uscc, pdf_bytes
from tests.reports.conftest import ledger_sums
from vouchers.models import Decision, Review, ScreeningResult, Voucher

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PROGRAM_NAME = "Shanghai AI Compute Vouchers 2025"
PROGRAM_NAME_ZH = "上海市人工智能算力券 2025"
PROVIDER_NAME = "Shanghai AI Compute Centre"
EMAIL = "li.na@example.com"
PASSWORD = "paper-lantern-river-77"
ORG_NAME = "Beijing Lingxi Intelligent Technology Co., Ltd."
TITLE = "Contract-review LLM for small law firms"
SUMMARY = "We fine-tune an open 14B model to review Chinese commercial contracts."
JUSTIFICATION = (
    "The company signed a lease in Shanghai and moves its registered office there this "
    "quarter; the program office accepts the Beijing licence meanwhile."
)
BUDGET = 10_000_000_00  # ProgramFactory's
REQUESTED = 180_000_00
AWARDED = 160_000_00
# The claim, by hand (program rates: 50% on domestic chips, 30% otherwise):
#   domestic 24,000.00 x 50% = 12,000.00; foreign 6,000.00 x 30% = 1,800.00; subsidy 13,800.00
CLAIM = {
    "reference": "SAICC-2025-0420",
    "invoice": "INV-2025-0420",
    "total": "30,000.00",
    "lines": [
        ("domestic", "1000", "24,000.00", "Ascend 910B, 32 cards"),
        ("foreign", "200", "6,000.00", "H20, 8 cards"),
    ],
}
SUBSIDY = 13_800_00


def cny(cents: int) -> str:
    return format_money(cents, "CNY")


def test_a_voucher_from_sign_up_to_the_auditors_report(
    page: Any, live_server: Any, request: Any
) -> None:
    require_redis()  # the auditor's report needs a real worker: skip before, not half-way
    base = live_server.url
    shots = screenshots_for(page, "full_journey")

    # 0. Seeded: the program (Shanghai companies only), its provider with one staff member, and
    # the staff accounts. Everything else is made through the pages.
    provider = ProviderFactory.create(
        short_name=PROVIDER_NAME, legal_name="Shanghai AI Compute Centre Co., Ltd."
    )
    program = ProgramFactory.create(
        name=PROGRAM_NAME, name_zh=PROGRAM_NAME_ZH, allowed_regions=["CN-SH"], providers=[provider]
    )
    approver = make_user("liu.yang@example.gov", "Liu Yang", User.Role.APPROVER)
    reviewer = make_user("wang.fang@example.gov", "Wang Fang", User.Role.REVIEWER)
    finance_a = make_user("gao.jing@example.gov", "Gao Jing", User.Role.FINANCE)
    finance_b = make_user("he.ping@example.gov", "He Ping", User.Role.FINANCE)
    auditor = make_user("zhang.min@example.gov", "Zhang Min", User.Role.AUDITOR)
    provider_user = make_user("sun.min@saicc.example.com", "Sun Min", User.Role.PROVIDER)
    registry_admin = make_user("admin@example.gov", "Registry Admin", User.Role.ADMIN)
    provider_staff_add(actor=registry_admin, provider_id=provider.pk, user_id=provider_user.pk)

    # 1. The startup finds the program and switches the site to Chinese before signing up.
    page.goto(base + "/")
    expect(page.get_by_role("link", name=PROGRAM_NAME)).to_be_visible()
    shots.take("applicant-home-en")
    switch_language(page, "zh-hans")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        zh("Compute vouchers for AI startups")
    )
    expect(page.get_by_role("link", name=PROGRAM_NAME_ZH)).to_be_visible()
    shots.take("applicant-home-zh-hans")
    with page.expect_navigation():
        page.locator("main .hero a[href$='/accounts/signup/']").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Create an account"))
    take_in_both_languages(page, shots, "applicant-signup")
    page.fill("#id_full_name", "Li Na")
    page.fill("#id_email", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password_confirm", PASSWORD)
    shots.take("applicant-signup-filled-zh-hans")
    click_and_wait(page, "signup-submit")
    expect(page).to_have_url(re.compile(r"/portal/$"))
    welcome = zh(
        "Welcome! We sent a confirmation link to %(email)s. You can start your "
        "application now and submit it once your email is confirmed."
    )
    expect(page.locator(".messages")).to_have_text(welcome % {"email": EMAIL})
    expect(page.locator(".banner.warning")).to_contain_text(CJK)
    user = User.objects.get(email=EMAIL)
    assert user.preferred_language == "zh-hans", "the account keeps the language signed up in"
    take_in_both_languages(page, shots, "applicant-dashboard-unconfirmed")

    # 2. The confirmation link, from the email in the outbox.
    email = Notification.objects.get(kind="email_verification", recipient_email=EMAIL)
    link = re.search(r"https?://\S+/accounts/verify/\S+/", email.body_text)
    assert link and link.group(0).startswith(base), email.body_text
    page.goto(link.group(0))
    expect(page.locator(".messages")).to_have_text(
        zh("Thank you, %(email)s is confirmed.") % {"email": EMAIL}
    )
    expect(page.locator(".banner.warning")).to_have_count(0)
    take_in_both_languages(page, shots, "applicant-email-confirmed")

    # 3. The organization: a Beijing company, which the program's region rule will catch.
    with page.expect_navigation():
        page.get_by_test_id("create-organization").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Register your organization"))
    take_in_both_languages(page, shots, "applicant-organization")
    page.fill("#id_legal_name", ORG_NAME)
    page.fill("#id_registration_number", make_uscc(424_242))
    page.select_option("#id_region", "CN-BJ")
    page.fill("#id_incorporated_on", "2023-03-01")
    page.fill("#id_headcount", "18")
    page.fill("#id_annual_revenue_cents", "0")
    shots.take("applicant-organization-filled-zh-hans")
    click_and_wait(page, "organization-submit")
    expect(page.locator(".messages")).to_have_text(
        zh("%(name)s is registered. You can now apply to a program.") % {"name": ORG_NAME}
    )
    take_in_both_languages(page, shots, "applicant-organization-registered")

    # 4. The program, in Chinese, and the application wizard.
    with page.expect_navigation():
        page.get_by_role("link", name=PROGRAM_NAME_ZH).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PROGRAM_NAME_ZH)
    take_in_both_languages(page, shots, "applicant-program")
    click_and_wait(page, "apply")
    take_in_both_languages(page, shots, "applicant-start-application")
    click_and_wait(page, "start-application")
    application = Application.objects.get()

    def step(title: str, name: str) -> None:
        """A wizard step, shown in Chinese; photographed in both languages before it is filled."""
        expect(page.get_by_role("heading", level=1)).to_have_text(zh(title))
        take_in_both_languages(page, shots, f"applicant-{name}")

    step("Project", "project")
    page.fill("#id_title", TITLE)
    page.fill("#id_summary", SUMMARY)
    page.fill("#id_description", "Data: 2 million public judgments. Team of six. Held-out eval.")
    shots.take("applicant-project-filled-zh-hans")
    click_and_wait(page, "save-continue")

    step("Compute plan", "compute")
    page.fill("#id_gpu_hours", "46080")
    page.fill("#id_gpu_model", "Ascend 910B")
    page.select_option("#id_chip_origin", "domestic")
    page.select_option("#id_intended_provider", str(provider.pk))
    page.fill("#id_compute_plan", "64 cards for 30 days of fine-tuning, then evaluation.")
    shots.take("applicant-compute-filled-zh-hans")
    click_and_wait(page, "save-continue")

    step("Funding", "funding")
    page.fill("#id_requested_amount_cents", "180000.00")
    shots.take("applicant-funding-filled-zh-hans")
    click_and_wait(page, "save-continue")

    step("Documents", "documents")
    page.select_option("#id_kind", "business_licence")
    page.set_input_files(
        "#id_file",
        {"name": "business-licence.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()},
    )
    click_and_wait(page, "upload")
    expect(page.locator(".messages")).to_have_text(
        zh("%(name)s uploaded.") % {"name": "business-licence.pdf"}
    )
    expect(page.locator("table.data")).to_contain_text("business-licence.pdf")
    take_in_both_languages(page, shots, "applicant-documents-uploaded")
    click_and_wait(page, "save-continue")

    step("Declarations", "declarations")
    page.check("#id_declares_truthful")
    page.check("#id_declares_no_double_funding")
    page.check("#id_declares_no_provider_affiliation")
    page.fill("#id_declared_by_name", "Li Na")
    shots.take("applicant-declarations-filled-zh-hans")
    click_and_wait(page, "save-continue")

    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Check your answers"))
    expect(page.locator(".error-summary")).to_have_count(0)
    expect(page.get_by_test_id("requested-amount")).to_contain_text("180,000.00")
    expect(page.get_by_test_id("submit-application")).to_be_enabled()
    take_in_both_languages(page, shots, "applicant-review")

    # 5. Submit: a receipt at once; the region rule fails, so it waits for an officer.
    click_and_wait(page, "submit-application")
    expect(page).to_have_url(re.compile(rf"/portal/applications/{application.pk}/receipt/1/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Application submitted"))
    expect(page.get_by_test_id("reference")).to_have_text(application.reference)
    expect(page.get_by_test_id("receipt")).to_contain_text("180,000.00")
    take_in_both_languages(page, shots, "applicant-receipt")
    with page.expect_navigation():
        page.locator("main .actions a.button").click()
    expect(page.get_by_test_id("screening-exception")).to_contain_text(CJK)
    application.refresh_from_db()
    assert application.status == Application.Status.SCREENING
    assert ScreeningResult.objects.get(application=application, passed=False).rule == "region"
    take_in_both_languages(page, shots, "applicant-application-screening")
    logout(page)

    # 6. The approver screens it: declares no conflict, overrides the region rule with a
    # justification, and assigns the reviewer. Staff work in English.
    login(page, base, email=approver.email)
    expect_lang(page, "en")
    open_queue(page, "screening", "Screening exceptions", shots, who="approver")
    shots.take("approver-screening-queue")
    open_application(page, application.reference, ORG_NAME)
    declare_no_conflict(page, shots, "approver", organization=ORG_NAME, hidden=SUMMARY)
    rule = page.get_by_test_id("rule-region")
    expect(rule).to_contain_text("failed")
    expect(rule).to_contain_text("Beijing")
    shots.take("approver-screening-failed-rule")
    rule.get_by_text("Override with a justification").click()
    page.fill("#id_justification", JUSTIFICATION)
    shots.take("approver-override-filled")
    click_and_wait(page, "override-region")
    expect(page.locator(".messages")).to_contain_text("The rule was overridden")
    expect(rule).to_contain_text("Overridden by Liu Yang")
    expect(page.locator("h1 + p .status")).to_contain_text("In review")
    shots.take("approver-override-accepted")
    page.select_option("#id_reviewer", str(reviewer.pk))
    click_and_wait(page, "assign")
    expect(page.locator(".messages")).to_contain_text("Reviewer assigned")
    expect(page.get_by_test_id("approve")).to_have_count(0)  # no completed review yet
    shots.take("approver-reviewer-assigned")
    logout(page)

    # 7. The reviewer declares no conflict and scores the rubric.
    login(page, base, email=reviewer.email)
    open_queue(page, "assigned", "My reviews", shots, who="reviewer")
    open_application(page, application.reference, ORG_NAME)
    declare_no_conflict(page, shots, "reviewer", organization=ORG_NAME, hidden=SUMMARY)
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
    page.fill("#id_score_innovation", "4")
    page.fill("#id_score_team", "4")
    page.fill("#id_score_compute_plan", "5")
    page.check("input[name=recommendation][value=fund]")
    page.fill("#id_comments", "Experienced team; the compute plan matches the data volume.")
    shots.take("reviewer-review-filled")
    click_and_wait(page, "submit-review")
    expect(page.locator(".messages")).to_contain_text("Your review is in")
    expect(page.get_by_test_id("review")).to_contain_text("Fund as requested")
    # Reviewers do not decide.
    expect(page.get_by_test_id("decision-panel")).to_have_count(0)
    shots.take("reviewer-review-submitted")
    logout(page)

    # 8. The approver, who did not review it, approves 160,000.00; the letter renders.
    login(page, base, email=approver.email)
    open_queue(page, "decision", "Awaiting decision", shots, who="approver")
    open_application(page, application.reference, ORG_NAME)
    expect(page.get_by_test_id("review")).to_contain_text("Wang Fang")
    expect(page.locator("#id_amount_cents")).to_have_value("180000.00")
    page.fill("#id_amount_cents", "160000.00")
    page.fill("#id_reasons", "Approved with a smaller amount: the evaluation phase is optional.")
    shots.take("approver-decision-filled")
    click_and_wait(page, "approve")
    expect(page.locator(".messages")).to_contain_text("Approved. The voucher is issued")
    expect(page.get_by_test_id("decision")).to_contain_text("160,000.00")
    expect(page.get_by_test_id("letter-status")).to_contain_text("Ready")
    shots.take("approver-approved-letter-ready")
    logout(page)
    decision = Decision.objects.get(application=application)
    assert decision.decided_by == approver != Review.objects.get(application=application).reviewer

    # 9. The startup, in Chinese, downloads the award letter and accepts the award.
    login(page, base, email=EMAIL, password=PASSWORD)
    expect_lang(page, "zh-hans")
    nav(page, zh("My applications"))
    with page.expect_navigation():
        page.get_by_role("link", name=application.reference).click()
    expect(page.get_by_test_id("approved")).to_contain_text(
        zh("Approved for %(amount)s.") % {"amount": cny(AWARDED)}
    )
    take_in_both_languages(page, shots, "applicant-approved")
    click_and_wait(page, "open-voucher")
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Your compute voucher"))
    expect(page.get_by_test_id("voucher-cap")).to_contain_text("160,000.00")
    voucher_code = page.get_by_test_id("voucher-code").inner_text().strip()
    take_in_both_languages(page, shots, "applicant-voucher-issued")
    with page.expect_download() as letter_download:
        page.get_by_test_id("download-letter").click()
    letter = Path(letter_download.value.path()).read_bytes()
    assert letter.startswith(b"%PDF-"), letter[:20]
    letter_text = _pdf_text(letter)
    assert ORG_NAME in letter_text and "160,000.00" in letter_text, letter_text[:2000]
    click_and_wait(page, "accept-award")
    expect(page.locator(".messages")).to_have_text(
        zh("You accepted the award. The voucher is active: give its code to your compute provider.")
    )
    expect(page.get_by_test_id("accept-award")).to_have_count(0)
    voucher = Voucher.objects.get(application=application)
    assert voucher.code == voucher_code and voucher.status == Voucher.Status.ACTIVE
    take_in_both_languages(page, shots, "applicant-voucher-active")
    logout(page)

    # 10. The provider claims the subsidy with the code the startup gave it.
    login(page, base, email=provider_user.email)
    expect_lang(page, "en")
    open_claim_form(page, PROVIDER_NAME)
    fill_claim(page, CLAIM, code=voucher_code, period=timezone.localdate())
    shots.take("provider-claim-filled")
    click_and_wait(page, "submit-claim")
    expect(page.locator(".messages")).to_contain_text("Claim accepted.")
    expect(page.get_by_test_id("claim-subsidy")).to_have_text(cny(SUBSIDY))
    expect(page.get_by_test_id("claim-trace")).to_contain_text(voucher_code)
    shots.take("provider-claim-accepted")
    logout(page)
    claim = Claim.objects.get()
    assert claim.status == Claim.Status.ACCEPTED and claim.subsidy_cents == SUBSIDY

    # 11. Finance officer A prepares the provider's payout and may not approve it himself.
    login(page, base, email=finance_a.email)
    nav(page, "Payouts")
    click_and_wait(page, "prepare-payout")
    unpaid = page.get_by_test_id(f"unpaid-{provider.pk}-CNY")
    expect(unpaid).to_contain_text(cny(SUBSIDY))
    shots.take("finance-a-unpaid-claims")
    with page.expect_navigation():
        unpaid.get_by_role("link", name="See the claims").click()
    expect(page.get_by_test_id("prepare-form").locator(f"#claim-{claim.pk}")).to_be_checked()
    shots.take("finance-a-prepare")
    click_and_wait(page, "confirm-payout")
    payout = Payout.objects.get()
    expect(page.locator(".messages")).to_contain_text(f"Payout {payout.reference} is prepared.")
    expect(page.get_by_test_id("payout-facts")).to_contain_text(cny(SUBSIDY))
    expect(page.get_by_test_id("approve-blocked")).to_contain_text("four eyes")
    expect(page.get_by_test_id("approve")).to_have_count(0)
    shots.take("finance-a-payout-prepared")
    logout(page)

    # 12. Finance officer B approves it.
    login(page, base, email=finance_b.email)
    nav(page, "Payouts")
    with page.expect_navigation():
        page.get_by_test_id("payouts").get_by_role("link", name=payout.reference).click()
    shots.take("finance-b-payout")
    click_and_wait(page, "approve")
    expect(page.locator(".messages")).to_contain_text("Approved for payment.")
    expect(page.get_by_test_id("payout-facts")).to_contain_text("He Ping")
    shots.take("finance-b-payout-approved")
    logout(page)
    payout.refresh_from_db()
    assert payout.status == Payout.Status.APPROVED
    assert (payout.created_by, payout.approved_by) == (finance_a, finance_b)

    # 13. The auditor requests the program summary; a real Celery worker (through Redis) renders
    # it while the page's progress bar moves. (Started only now, so the award letter above was
    # rendered eagerly, as in the officer journey.)
    request.getfixturevalue("real_celery_worker")
    reported = request.getfixturevalue("slow_worker")
    login(page, base, email=auditor.email)
    nav(page, "Reports")
    page.get_by_test_id("request-program_summary").locator("summary").click()
    page.select_option("#id_program_summary-program", str(program.pk))
    shots.take("auditor-request-report")
    click_and_wait(page, "submit-program_summary")
    report = Report.objects.get()
    assert page.url.endswith(f"/reports/{report.pk}/")
    expect(page.get_by_test_id("progress")).to_be_visible()
    shots.take("auditor-report-queued")
    seen = watch_report_progress(page, shots, "auditor-report-rendering")
    assert any(0 < value < 100 for value in seen) and seen == sorted(seen), seen
    assert reported == [1, 2, 3, 4]
    shots.take("auditor-report-done")
    with page.expect_download() as report_download:
        page.get_by_test_id("download-pdf").click()
    pdf = Path(report_download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert hashlib.sha256(pdf).hexdigest() == page.get_by_test_id("pdf-sha256").inner_text().strip()
    text = _pdf_text(pdf)
    assert ledger_sums(program=program) == {
        "committed": AWARDED,
        "spent": SUBSIDY,
        "cap": AWARDED,
    }
    for label, cents in [
        ("Budget", BUDGET),
        ("Committed (ledger)", AWARDED),
        ("Spent (ledger)", SUBSIDY),
        ("Remaining (not committed)", BUDGET - AWARDED),
        ("Committed, not yet spent", AWARDED - SUBSIDY),
    ]:
        assert f"{label} {cny(cents)}" in text, f"{label} {cny(cents)} not in:\n{text[:3000]}"
    assert f"{PROVIDER_NAME} 1 {cny(SUBSIDY)}" in text, text[:3000]

    # Every step was photographed; each applicant page in both languages.
    names = [re.sub(r"^\d+-|\.png$", "", path.name) for path in shots.taken]
    english = {
        n.removesuffix("-en") for n in names if n.startswith("applicant-") and n.endswith("-en")
    }
    chinese = {
        n.removesuffix("-zh-hans")
        for n in names
        if n.startswith("applicant-") and n.endswith("-zh-hans")
    }
    assert len(english) >= 15 and english <= chinese, names


def _pdf_text(data: bytes) -> str:
    """The text a reader sees, whitespace collapsed."""
    pages = PdfReader(io.BytesIO(data)).pages
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in pages))
