"""The officers' side of one application, in a real Chromium, from a failed eligibility rule to
an accepted voucher: a reviewer overrides the failed rule, an approver assigns the reviewer, the
reviewer scores the rubric, the approver approves an amount and the applicant downloads the
award letter and accepts the award.

Screenshots of every step: test-artifacts/browser/officer-journey/NN-step.png
Run: .venv/bin/python -m pytest tests/browser/test_officer_journey.py -q
"""

import io
import re
from typing import Any

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from accounts.models import User
from applicants import services as applicant_services
from applicants.models import Application
from tests.browser.conftest import (
    click_and_wait,
    declare_no_conflict,
    field_error,
    login,
    logout,
    open_application,
    open_queue,
)
from tests.conftest import COMPLETE_ANSWERS
from tests.factories import (
    OrganizationFactory,
    ProgramFactory,
    ProviderFactory,
    UserFactory,
    pdf_upload,
)
from vouchers.models import AwardLetter, Decision, Review, ScreeningResult, Voucher

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ORG_NAME = "Beijing Deep Tensor Technology Co., Ltd."
REQUESTED = 180_000_00  # COMPLETE_ANSWERS["requested_amount_cents"]
AWARDED = 160_000_00
JUSTIFICATION = (
    "The company moved its registered office to Shanghai last month; the new business "
    "licence is being issued by the Shanghai market regulator."
)


def test_officers_screen_review_and_approve_then_applicant_accepts(
    page: Any, live_server: Any, shots: Any, settings: Any
) -> None:
    base = live_server.url
    settings.SITE_URL = base

    # 1. Setup through the services: one application from Beijing to a Shanghai-only program.
    provider = ProviderFactory(short_name="Shanghai AI Compute Centre")
    program = ProgramFactory(
        name="Shanghai AI Compute Vouchers 2025", allowed_regions=["CN-SH"], providers=[provider]
    )
    applicant = UserFactory(email="zhao.lei@example.com", full_name="Zhao Lei")
    organization = OrganizationFactory(legal_name=ORG_NAME, region="CN-BJ", owner=applicant)
    reviewer = UserFactory(
        email="wang.fang@example.gov", full_name="Wang Fang", role=User.Role.REVIEWER
    )
    approver = UserFactory(
        email="liu.yang@example.gov", full_name="Liu Yang", role=User.Role.APPROVER
    )
    application = applicant_services.application_create(
        actor=applicant, organization_id=organization.pk, program_id=program.pk
    )
    applicant_services.application_update(
        actor=applicant,
        application_id=application.pk,
        values={**COMPLETE_ANSWERS, "intended_provider": provider},
    )
    applicant_services.document_add(
        actor=applicant,
        application_id=application.pk,
        kind="business_licence",
        upload=pdf_upload(),
    )
    application = applicant_services.application_submit(
        actor=applicant, application_id=application.pk
    )
    assert application.status == Application.Status.SCREENING
    failed = ScreeningResult.objects.get(application=application, passed=False)
    assert failed.rule == "region"

    # 2. The reviewer finds it among the screening exceptions and declares no conflict.
    login(page, base, email=reviewer.email)
    open_queue(page, "screening", "Screening exceptions", shots)
    shots.take("reviewer-screening-queue")
    # Before the declaration the queue shows who applied, not what they wrote.
    row = page.locator("table.data tbody tr", has_text=application.reference)
    expect(row).to_contain_text("declare conflicts to see")
    expect(row).not_to_contain_text(COMPLETE_ANSWERS["title"])
    open_application(page, application.reference, ORG_NAME)
    declare_no_conflict(
        page, shots, "reviewer", organization=ORG_NAME, hidden=COMPLETE_ANSWERS["summary"]
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text(COMPLETE_ANSWERS["title"])
    # Now the content is shown, documents included.
    with page.expect_download() as licence:
        page.get_by_test_id("submitted-answers").get_by_role("link", name="licence.pdf").click()
    assert licence.value.suggested_filename == "licence.pdf"
    with open(licence.value.path(), "rb") as fh:
        assert fh.read(5) == b"%PDF-"

    # The screening table names the failed rule and says why.
    rule = page.get_by_test_id("rule-region")
    expect(rule).to_contain_text("failed")
    expect(rule).to_contain_text("Beijing")
    expect(rule).to_contain_text("Shanghai")
    expect(page.locator("table.screening .status-rejected")).to_have_count(1)
    shots.take("reviewer-application-screening")

    # A justification that is too short is refused next to the field; nothing changes.
    rule.get_by_text("Override with a justification").click()
    page.fill("#id_justification", "ok, fine")
    shots.take("override-too-short-filled")
    click_and_wait(page, "override-region")
    expect(field_error(page, "justification")).to_be_visible()
    expect(field_error(page, "justification")).to_contain_text("at least 20 characters")
    expect(page.locator("#id_justification")).to_have_value("ok, fine")
    failed.refresh_from_db()
    assert failed.overridden_at is None
    shots.take("override-too-short-refused")

    page.fill("#id_justification", JUSTIFICATION)
    click_and_wait(page, "override-region")
    expect(page.locator(".messages")).to_contain_text("The rule was overridden")
    expect(rule).to_contain_text("overridden")
    expect(rule).to_contain_text("Overridden by Wang Fang")
    expect(page.locator("h1 + p .status")).to_contain_text("In review")
    application.refresh_from_db()
    assert application.status == Application.Status.IN_REVIEW
    shots.take("override-accepted-in-review")
    logout(page)

    # 3. The approver declares no conflict and assigns the reviewer.
    login(page, base, email=approver.email)
    open_queue(page, "review", "Awaiting review")
    open_application(page, application.reference, ORG_NAME)
    declare_no_conflict(
        page, shots, "approver", organization=ORG_NAME, hidden=COMPLETE_ANSWERS["summary"]
    )
    reviewers = page.locator(".card", has=page.get_by_role("heading", name="Reviewers"))
    expect(reviewers).to_contain_text("Nobody assigned yet.")
    page.select_option("#id_reviewer", str(reviewer.pk))
    shots.take("approver-assigns-reviewer")
    click_and_wait(page, "assign")
    expect(page.locator(".messages")).to_contain_text("Reviewer assigned")
    expect(reviewers).to_contain_text("Wang Fang")
    # Approval needs a completed review, so only rejection is offered for now.
    expect(page.get_by_test_id("decision-panel")).to_contain_text("needs 1 completed review")
    expect(page.get_by_test_id("approve")).to_have_count(0)
    shots.take("approver-reviewer-assigned")
    logout(page)

    # 4. The reviewer opens "My reviews", scores the rubric and submits the review.
    login(page, base, email=reviewer.email)
    open_queue(page, "assigned", "My reviews", shots)
    shots.take("reviewer-my-reviews")
    open_application(page, application.reference, ORG_NAME)
    form = page.get_by_test_id("review-form")
    expect(form).to_be_visible()
    expect(page.get_by_text("The other reviews appear here once yours is in.")).to_be_visible()
    shots.take("reviewer-review-form")
    page.fill("#id_score_innovation", "7")  # out of 0–5
    page.fill("#id_score_team", "4")
    page.fill("#id_score_compute_plan", "5")
    page.check("input[name=recommendation][value=fund]")
    page.fill(
        "#id_comments",
        "Strong team with two prior open-weight releases; the compute plan is realistic.",
    )
    click_and_wait(page, "submit-review")
    expect(field_error(page, "score_innovation")).to_be_visible()
    expect(field_error(page, "score_innovation")).to_contain_text("less than or equal to 5")
    expect(page.locator("#id_comments")).to_have_value(re.compile("Strong team"))
    expect(page.locator("input[name=recommendation][value=fund]")).to_be_checked()
    assert not Review.objects.exists()
    shots.take("reviewer-score-out-of-range")
    page.fill("#id_score_innovation", "4")
    click_and_wait(page, "submit-review")
    expect(page.locator(".messages")).to_contain_text("Your review is in")
    expect(page.get_by_test_id("review-form")).to_have_count(0)
    review = page.get_by_test_id("review")
    expect(review).to_have_count(1)
    expect(review).to_contain_text("Wang Fang")
    expect(review).to_contain_text("Fund as requested")
    expect(review).to_contain_text("4 / 5")
    shots.take("reviewer-review-submitted")
    logout(page)

    # 5. The approver decides: above the request is refused, a valid amount issues the voucher.
    login(page, base, email=approver.email)
    open_queue(page, "decision", "Awaiting decision", shots)
    shots.take("approver-awaiting-decision")
    open_application(page, application.reference, ORG_NAME)
    expect(page.get_by_test_id("review")).to_contain_text("Wang Fang")
    panel = page.get_by_test_id("decision-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#id_amount_cents")).to_have_value("180000.00")
    shots.take("approver-decision-panel")
    page.fill("#id_amount_cents", "200000.00")
    click_and_wait(page, "approve")
    # The refusal is shown in the decision panel's error summary. (It should also sit next to
    # the amount field, but the service names the field "amount" and the form "amount_cents":
    # see the report that came with this test.)
    panel = page.get_by_test_id("decision-panel")
    expect(panel.locator(".error-summary")).to_contain_text("cannot exceed")
    expect(panel.locator(".error-summary")).to_contain_text("180,000.00")
    expect(page.locator("#id_amount_cents")).to_have_value("200000.00")
    assert not Decision.objects.exists()
    shots.take("approver-amount-above-request")
    page.fill("#id_amount_cents", "160000.00")
    page.fill("#id_reasons", "Approved with a smaller amount: the evaluation phase is optional.")
    click_and_wait(page, "approve")
    expect(page.locator(".messages")).to_contain_text("Approved. The voucher is issued")
    decision_card = page.get_by_test_id("decision")
    expect(decision_card).to_contain_text("160,000.00")
    expect(decision_card).to_contain_text("Liu Yang")
    voucher = Voucher.objects.get(application=application)
    expect(decision_card.locator("code")).to_have_text(voucher.code)
    letter_status = page.get_by_test_id("letter-status")
    expect(letter_status).to_contain_text("Ready")
    expect(letter_status.get_by_role("link", name="Download PDF")).to_be_visible()
    expect(page.get_by_test_id("decision-panel")).to_have_count(0)
    shots.take("approver-approved-letter-ready")
    logout(page)

    # 6. The applicant sees the approval, downloads the letter and accepts the award.
    login(page, base, email=applicant.email)
    page.goto(f"{base}/portal/applications/{application.pk}/")
    expect(page.get_by_test_id("approved")).to_contain_text("Approved for")
    expect(page.get_by_test_id("approved")).to_contain_text("160,000.00")
    shots.take("applicant-application-approved")
    click_and_wait(page, "open-voucher")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your compute voucher")
    expect(page.get_by_test_id("voucher-code")).to_have_text(voucher.code)
    expect(page.get_by_test_id("voucher-cap")).to_contain_text("160,000.00")
    expect(page.locator("h1 + p .status")).to_contain_text("Issued")
    shots.take("applicant-voucher-issued")
    with page.expect_download() as download_info:
        page.get_by_test_id("download-letter").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf"), download.suggested_filename
    with open(download.path(), "rb") as fh:
        pdf = fh.read()
    assert pdf.startswith(b"%PDF-"), pdf[:20]
    text = " ".join((p.extract_text() or "") for p in PdfReader(io.BytesIO(pdf)).pages)
    flat = re.sub(r"\s+", " ", text)
    assert ORG_NAME in flat, f"organization missing from the letter:\n{flat[:2000]}"
    assert "160,000.00" in flat, f"amount missing from the letter:\n{flat[:2000]}"
    click_and_wait(page, "accept-award")
    expect(page.locator(".messages")).to_contain_text("You accepted the award")
    expect(page.locator("h1 + p .status")).to_contain_text("Active")
    expect(page.get_by_test_id("accept-award")).to_have_count(0)
    shots.take("applicant-voucher-active")

    # 7. What the database says.
    decision = Decision.objects.get(application=application)
    assert decision.outcome == Decision.Outcome.APPROVED
    assert decision.amount_cents == AWARDED and decision.decided_by == approver
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ACTIVE
    assert voucher.cap_cents == AWARDED and voucher.spent_cents == 0
    program.refresh_from_db()
    assert program.committed_cents == AWARDED
    letter = AwardLetter.objects.get(voucher=voucher)
    assert letter.status == AwardLetter.Status.READY
    assert re.fullmatch(r"[0-9a-f]{64}", letter.sha256)
    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED
    assert application.requested_amount_cents == REQUESTED  # the request itself is untouched
    review_row = Review.objects.get(application=application)
    assert review_row.reviewer == reviewer
    assert review_row.scores == {"innovation": 4, "team": 4, "compute_plan": 5}
