"""The money side of one voucher, in a real Chromium: a compute provider claims against an active
voucher of 150,000.00 (a mistyped code first, then the right one; the same form sent twice makes
one claim, the same reference with other content none; lines above the invoice total are
refused), the startup follows its spending, an approver suspends the voucher (the next claim is
refused) and reinstates it, and two finance officers prepare, approve (four eyes, held by the
server), pay and export the provider's payout.

Screenshots of every step: test-artifacts/browser/money-journey/NN-step.png
Run: .venv/bin/python -m pytest tests/browser/test_money_journey.py -q
"""

import codecs
import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from applicants import services as applicant_services
from disbursement.models import Claim, LedgerEntry, Payout, Provider, RejectionCode
from disbursement.services.providers import provider_staff_add
from tests.browser.conftest import (
    click_and_wait,
    field_error,
    fill_claim,
    login,
    logout,
    make_user,
    nav,
    open_claim_form,
)
from tests.conftest import COMPLETE_ANSWERS
from tests.factories import (
    OrganizationFactory,
    ProgramFactory,
    ProviderFactory,
    pdf_upload,
)
from tests.vouchers.conftest import make_ready
from vouchers import services as voucher_services
from vouchers.models import Voucher

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ORG_NAME = "Shanghai Deep Tensor Technology Co., Ltd."
PROVIDER_NAME = "Shanghai AI Compute Centre"
CAP = 150_000_00  # what the approver awards; the program's rates: 30% foreign, 50% domestic

# The accepted claim, by hand (each line's subsidy is rounded down to the cent):
#   line 1, domestic chips: 12,345.67 x 50% = 6,172.835  -> 6,172.83
#   line 2, foreign chips:   8,000.01 x 30% = 2,400.003  -> 2,400.00
#   subsidy                                              =  8,572.83
#   invoice total 21,000.00 (the lines cover 20,345.68 of it; storage is not subsidised):
#   billed to the startup 21,000.00 - 8,572.83           = 12,427.17
#   left on the voucher 150,000.00 - 8,572.83            = 141,427.17 (5% used)
FIRST = {
    "reference": "SAICC-2025-0001",
    "invoice": "INV-88001",
    "total": "21,000.00",
    "lines": [
        ("domestic", "1234.5", "12,345.67", "Ascend 910B, 64 cards"),
        ("foreign", "800", "8000.01", "H20, 8 cards"),
    ],
}
SUBSIDY = 8_572_83
OVER_TOTAL = {
    "reference": "SAICC-2025-0002",
    "invoice": "INV-88002",
    "total": "1,000.00",
    "lines": [("domestic", "80", "800.00", ""), ("foreign", "30", "300.00", "")],
}
WHILE_SUSPENDED = {
    "reference": "SAICC-2025-0003",
    "invoice": "INV-88003",
    "total": "2,000.00",
    "lines": [("domestic", "100", "2,000.00", "")],
}
SUSPEND_REASON = "The startup reported a lost award letter; checking who used the code."
BANK_REFERENCE = "ICBC-20250611-000123"


def _post_from_page(page: Any, action: str) -> Any:
    """Send an empty POST form (with the page's CSRF token) to `action`, and wait for the answer
    (returned): what a button on a stale page, or a hand-made request, would send."""
    with page.expect_navigation() as answer:
        page.evaluate(
            """(action) => {
                const form = document.createElement("form");
                form.method = "post";
                form.action = action;
                form.append(document.querySelector("input[name=csrfmiddlewaretoken]").cloneNode());
                document.body.append(form);
                form.submit();
            }""",
            action,
        )
    return answer.value


def _typed(code: str) -> str:
    """A code as people type it: lower case, groups separated by spaces."""
    return code.lower().replace("-", " ")


def _mistyped(code: str) -> str:
    """The same code with its first character after CV- changed: the check character catches
    any single changed character."""
    first = code[3]
    return code[:3] + ("7" if first != "7" else "8") + code[4:]


def _active_voucher(
    *, applicant: User, reviewer: User, approver: User, provider: Provider
) -> Voucher:
    """An application approved for 150,000.00 and accepted by the startup, through the services
    (the award letter renders on commit: Celery runs eagerly in tests)."""
    program = ProgramFactory.create(name="Shanghai AI Compute Vouchers 2025", providers=[provider])
    organization = OrganizationFactory.create(legal_name=ORG_NAME, owner=applicant)
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
    make_ready(application, reviewer=reviewer, approver=approver)
    voucher_services.application_approve(
        actor=approver, application_id=application.pk, amount_cents=CAP
    )
    voucher = Voucher.objects.get(application=application)
    return voucher_services.voucher_accept(actor=applicant, voucher_id=voucher.pk)


def test_provider_claims_startup_follows_approver_suspends_and_finance_pays(
    page: Any, live_server: Any, shots: Any
) -> None:
    base = live_server.url

    # 0. Setup through the services: an active voucher, a provider approved for the program
    # with one staff member, an approver, two finance officers, the startup's owner.
    provider: Provider = ProviderFactory.create(
        short_name=PROVIDER_NAME, legal_name="Shanghai AI Compute Centre Co., Ltd."
    )
    applicant = make_user("zhao.lei@example.com", "Zhao Lei", User.Role.APPLICANT)
    reviewer = make_user("wang.fang@example.gov", "Wang Fang", User.Role.REVIEWER)
    approver = make_user("liu.yang@example.gov", "Liu Yang", User.Role.APPROVER)
    finance_a = make_user("gao.jing@example.gov", "Gao Jing", User.Role.FINANCE)
    finance_b = make_user("he.ping@example.gov", "He Ping", User.Role.FINANCE)
    staff = make_user("sun.min@saicc.example.com", "Sun Min", User.Role.PROVIDER)
    registry_admin = make_user("admin@example.gov", "Registry Admin", User.Role.ADMIN)
    provider_staff_add(actor=registry_admin, provider_id=provider.pk, user_id=staff.pk)
    voucher = _active_voucher(
        applicant=applicant, reviewer=reviewer, approver=approver, provider=provider
    )
    assert voucher.status == Voucher.Status.ACTIVE and voucher.cap_cents == CAP
    assert (voucher.rate_standard_bps, voucher.rate_domestic_bps) == (3000, 5000)
    today = timezone.localdate()

    # 1. The provider's staff member opens the claim form from the header.
    login(page, base, email=staff.email, shots=shots)
    open_claim_form(page, PROVIDER_NAME)
    shots.take("provider-claim-form")

    # A mistyped code is caught by its check character, next to the field; nothing is recorded.
    fill_claim(page, FIRST, code=_mistyped(voucher.code), period=today)
    shots.take("provider-claim-mistyped-code-filled")
    click_and_wait(page, "submit-claim")
    expect(field_error(page, "voucher_code")).to_contain_text("check character does not match")
    expect(page.locator(".error-summary")).to_contain_text("Voucher code")
    expect(page.locator("#id_reference")).to_have_value(FIRST["reference"])
    expect(page.locator("#id_lines-1-amount_cents")).to_have_value("8000.01")
    assert not Claim.objects.exists()
    shots.take("provider-claim-mistyped-code-refused")

    # The right code, typed in lower case with spaces, is accepted; the trace shows the sums.
    page.fill("#id_voucher_code", _typed(voucher.code))
    click_and_wait(page, "submit-claim")
    expect(page.locator(".messages")).to_contain_text("Claim accepted.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Claim {FIRST['reference']}")
    trace = page.get_by_test_id("claim-trace")
    expect(trace).to_contain_text(voucher.code)
    expect(trace).to_contain_text("INV-88001 · CNY 21,000.00")
    rows = trace.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td")).to_have_text(
        [
            "1",
            re.compile(r"Domestic AI chips\s*Ascend 910B"),
            "1234.500",
            "12,345.67",
            "50%",
            "6,172.83",
        ]
    )
    expect(rows.nth(1).locator("td")).to_have_text(
        ["2", re.compile(r"Foreign AI chips\s*H20"), "800.000", "8,000.01", "30%", "2,400.00"]
    )
    expect(page.get_by_test_id("claim-subsidy")).to_have_text("CNY 8,572.83")
    expect(trace).to_contain_text("CNY 12,427.17")  # billed to the startup
    expect(trace).to_contain_text("left on the voucher before this claim: CNY 150,000.00")
    claim = Claim.objects.get()
    assert claim.status == Claim.Status.ACCEPTED and claim.subsidy_cents == SUBSIDY
    assert claim.billed_to_startup_cents == 12_427_17
    claim_url = page.url
    shots.take("provider-claim-accepted")

    # 2. The browser's back button leads to the form as it was sent (the page with the mistyped
    # code, from the browser's cache); correcting the code and sending it again lands on the same
    # claim: the reference makes the submission idempotent.
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("Submit a claim")
    expect(page.locator("#id_reference")).to_have_value(FIRST["reference"])
    expect(page.get_by_test_id("submit-claim")).to_be_enabled()
    page.fill("#id_voucher_code", _typed(voucher.code))
    shots.take("provider-back-and-send-again")
    click_and_wait(page, "submit-claim")
    # The page the first submission led to, the same claim and the same sums, saying that the
    # claim had been recorded before (the API says it with an Idempotent-Replayed header).
    assert page.url == claim_url
    expect(page.locator(".messages")).to_contain_text("already recorded")
    expect(page.locator(".messages")).not_to_contain_text("Claim accepted.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Claim {FIRST['reference']}")
    expect(page.get_by_test_id("claim-subsidy")).to_have_text("CNY 8,572.83")
    assert Claim.objects.count() == 1
    voucher.refresh_from_db()
    assert voucher.spent_cents == SUBSIDY  # charged once
    shots.take("provider-same-claim-same-page")
    with page.expect_navigation():
        page.get_by_role("link", name="Back", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PROVIDER_NAME)
    dashboard = page.locator("table.data tbody")
    expect(dashboard.locator("tr")).to_have_count(1)
    expect(dashboard.locator("tr")).to_contain_text(FIRST["reference"])

    # The same reference with different content is a different claim: refused on the form, and
    # nothing is recorded.
    click_and_wait(page, "new-claim")
    fill_claim(page, {**FIRST, "total": "21,500.00"}, code=voucher.code, period=today)
    click_and_wait(page, "submit-claim")
    reused = f"The reference {FIRST['reference']} was already used for a different claim."
    expect(page.locator(".error-summary")).to_contain_text(reused)
    expect(page.locator("#field-reference")).to_contain_text(reused)  # at the field too
    expect(page.locator("#id_invoice_total_cents")).to_have_value("21,500.00")
    assert Claim.objects.count() == 1
    voucher.refresh_from_db()
    assert voucher.spent_cents == SUBSIDY
    shots.take("provider-same-reference-other-claim-refused")

    # 3. Lines that add up to more than the invoice total are refused, with the reason.
    with page.expect_navigation():
        page.locator("main").get_by_role("link", name=PROVIDER_NAME, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PROVIDER_NAME)
    click_and_wait(page, "new-claim")
    fill_claim(page, OVER_TOTAL, code=voucher.code, period=today)
    click_and_wait(page, "submit-claim")
    expect(page.locator(".messages")).to_contain_text(
        "Claim refused: The lines add up to more than the invoice total."
    )
    refused = page.get_by_test_id("claim-rejected")
    expect(refused).to_contain_text("The usage lines do not add up or are invalid")
    expect(page.locator("h1 + p .status")).to_contain_text("Rejected")
    expect(page.get_by_test_id("claim-subsidy")).to_have_count(0)
    over = Claim.objects.get(provider_reference=OVER_TOTAL["reference"])
    assert over.status == Claim.Status.REJECTED
    assert over.rejection_code == RejectionCode.MALFORMED_LINES
    shots.take("provider-claim-over-total-refused")
    with page.expect_navigation():
        page.get_by_role("link", name="Back", exact=True).click()
    expect(dashboard.locator("tr")).to_have_count(2)
    expect(dashboard.locator("tr", has_text=FIRST["reference"])).to_contain_text("CNY 8,572.83")
    expect(dashboard.locator("tr", has_text=OVER_TOTAL["reference"])).to_contain_text("Rejected")
    shots.take("provider-dashboard")
    logout(page)

    # 4. The startup sees the spending: chart, ledger (issue + charge) and the claim's trace.
    login(page, base, email=applicant.email)
    nav(page, "My applications")
    with page.expect_navigation():
        page.get_by_role("link", name=voucher.application.reference).click()
    click_and_wait(page, "open-voucher")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your compute voucher")
    expect(page.get_by_test_id("voucher-cap")).to_have_text("CNY 150,000.00")
    expect(page.get_by_test_id("voucher-spent")).to_have_text("CNY 8,572.83")
    expect(page.get_by_test_id("voucher-left")).to_have_text("CNY 141,427.17")
    chart = page.get_by_test_id("spending-chart")
    expect(chart).to_contain_text("CNY 8,572.83 of CNY 150,000.00 used (5%).")
    expect(chart.locator("svg")).to_be_visible()
    progress = page.get_by_role("progressbar", name="Voucher used")
    expect(progress).to_have_attribute("aria-valuenow", str(SUBSIDY))
    expect(progress).to_have_attribute("aria-valuemax", str(CAP))
    ledger = page.get_by_test_id("ledger").locator("tbody tr")
    expect(ledger).to_have_count(2)
    expect(ledger.nth(0)).to_contain_text("Voucher issued")
    expect(ledger.nth(0)).to_contain_text("150,000.00")
    expect(ledger.nth(1)).to_contain_text("Claim charged")
    expect(ledger.nth(1)).to_contain_text("8,572.83")
    expect(ledger.nth(1)).to_contain_text(FIRST["reference"])
    # Only money that moved is listed: the refused claim is not.
    claims = page.locator("details.card", has=page.get_by_test_id("claim-trace"))
    expect(claims).to_have_count(1)
    expect(claims).to_contain_text(f"{PROVIDER_NAME} · invoice INV-88001 · CNY 8,572.83")
    claims.locator("summary").click()
    expect(claims.get_by_test_id("claim-subsidy")).to_have_text("CNY 8,572.83")
    expect(claims.locator("tbody tr").nth(0)).to_contain_text("6,172.83")
    expect(claims.locator("tbody tr").nth(1)).to_contain_text("2,400.00")
    shots.take("applicant-voucher-spending")
    logout(page)

    # 5. The approver finds the voucher from the claims list and suspends it.
    login(page, base, email=approver.email)
    nav(page, "Claims")
    expect(page.get_by_role("heading", level=1)).to_have_text("Claims")
    row = page.locator("table.data tbody tr", has_text=FIRST["reference"])
    shots.take("approver-claims")
    with page.expect_navigation():
        row.get_by_role("link", name=voucher.code).click()
    assert page.url == f"{base}/officer/vouchers/{voucher.pk}/"
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Voucher {voucher.code}")
    expect(page.get_by_test_id("voucher-spent")).to_have_text("CNY 8,572.83")
    expect(page.get_by_test_id("voucher-left")).to_have_text("CNY 141,427.17")
    expect(page.get_by_test_id("ledger").locator("tbody tr")).to_have_count(2)
    shots.take("approver-voucher")
    page.get_by_test_id("suspend-panel").locator("summary").click()
    page.fill("#id_suspend-reason", "lost")
    shots.take("approver-suspend-too-short-filled")
    click_and_wait(page, "suspend")
    expect(field_error(page, "suspend-reason")).to_contain_text("at least 10 characters")
    expect(page.locator("#id_suspend-reason")).to_have_value("lost")
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ACTIVE
    shots.take("approver-suspend-too-short-refused")
    page.fill("#id_suspend-reason", SUSPEND_REASON)
    click_and_wait(page, "suspend")
    expect(page.locator(".messages")).to_contain_text("The voucher is suspended")
    expect(page.locator("h1 + p .status")).to_contain_text("Suspended")
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.SUSPENDED
    shots.take("approver-voucher-suspended")
    logout(page)

    # The provider's next claim is refused: the voucher is suspended.
    login(page, base, email=staff.email)
    open_claim_form(page, PROVIDER_NAME)
    fill_claim(page, WHILE_SUSPENDED, code=voucher.code, period=today)
    click_and_wait(page, "submit-claim")
    expect(page.locator(".messages")).to_contain_text("Claim refused: The voucher is suspended")
    # The reason is the refusal's label itself, so it is said once.
    expect(page.get_by_test_id("claim-rejected")).to_have_text("The voucher is suspended")
    suspended = Claim.objects.get(provider_reference=WHILE_SUSPENDED["reference"])
    assert suspended.rejection_code == RejectionCode.SUSPENDED
    shots.take("provider-claim-refused-suspended")
    logout(page)

    # The approver reinstates the voucher.
    login(page, base, email=approver.email)
    page.goto(f"{base}/officer/vouchers/{voucher.pk}/")
    panel = page.get_by_test_id("reinstate-panel")
    expect(panel).to_be_visible()
    panel.locator("textarea").fill("Checked with the startup: the claims are theirs.")
    shots.take("approver-reinstate-filled")
    click_and_wait(page, "reinstate")
    expect(page.locator(".messages")).to_contain_text("The voucher is active again.")
    expect(page.locator("h1 + p .status")).to_contain_text("Active")
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ACTIVE
    shots.take("approver-voucher-reinstated")
    logout(page)

    # 6. Finance officer A prepares the provider's payout, and cannot approve it.
    login(page, base, email=finance_a.email)
    nav(page, "Payouts")
    expect(page.get_by_role("heading", level=1)).to_have_text("Payouts")
    expect(page.get_by_test_id("payouts")).to_contain_text("No payouts yet.")
    click_and_wait(page, "prepare-payout")
    unpaid = page.get_by_test_id(f"unpaid-{provider.pk}-CNY")
    expect(unpaid.locator("td")).to_have_text(
        [re.compile(PROVIDER_NAME), "CNY", "1", "CNY 8,572.83", "See the claims"]
    )
    shots.take("finance-a-unpaid-claims")
    with page.expect_navigation():
        unpaid.get_by_role("link", name="See the claims").click()
    form = page.get_by_test_id("prepare-form")
    expect(form.locator("input[name=claims]")).to_have_count(1)
    expect(form.locator(f"#claim-{claim.pk}")).to_be_checked()
    expect(form.locator("tfoot")).to_contain_text("CNY 8,572.83")
    shots.take("finance-a-prepare")
    click_and_wait(page, "confirm-payout")
    payout = Payout.objects.get()
    expect(page.locator(".messages")).to_contain_text(f"Payout {payout.reference} is prepared.")
    expect(page.get_by_test_id("payout-facts")).to_contain_text("CNY 8,572.83")
    expect(page.get_by_test_id("payout-claims").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("approve-blocked")).to_contain_text(
        "You prepared this payout, so another finance officer must approve it (four eyes)."
    )
    expect(page.get_by_test_id("approve")).to_have_count(0)
    expect(page.get_by_test_id("approve-panel").get_by_role("button")).to_be_disabled()
    shots.take("finance-a-payout-prepared")
    # The rule is the server's, not the disabled button's: the approval sent anyway (as from a
    # page opened before, or a hand-made request) is refused with the same reason, on a 403 page
    # (as the API answers it).
    answer = _post_from_page(page, f"/finance/payouts/{payout.pk}/approve/")
    assert answer.status == 403, answer.status
    expect(page.get_by_test_id("domain-error")).to_have_text(
        "You prepared this payout, so another finance officer must approve it (four eyes)."
    )
    payout.refresh_from_db()
    assert payout.status == Payout.Status.DRAFT and payout.approved_by is None
    shots.take("finance-a-own-approval-refused")
    page.go_back()
    expect(page.locator("h1 + p .status")).to_contain_text("Prepared")
    logout(page)

    # Finance officer B approves it, records the payment and downloads the bank file.
    login(page, base, email=finance_b.email)
    nav(page, "Payouts")
    payouts = page.get_by_test_id("payouts").locator("tbody tr")
    expect(payouts).to_have_count(1)
    expect(payouts).to_contain_text("Prepared")
    with page.expect_navigation():
        payouts.get_by_role("link", name=payout.reference).click()
    shots.take("finance-b-payout")
    click_and_wait(page, "approve")
    expect(page.locator(".messages")).to_contain_text("Approved for payment.")
    expect(page.get_by_test_id("payout-facts")).to_contain_text("Approved by")
    expect(page.get_by_test_id("payout-facts")).to_contain_text("He Ping")
    shots.take("finance-b-approved")
    click_and_wait(page, "mark-paid")  # no bank reference at all
    expect(field_error(page, "bank_reference")).to_contain_text("This field is required.")
    page.fill("#id_bank_reference", "ok")
    click_and_wait(page, "mark-paid")
    expect(field_error(page, "bank_reference")).to_contain_text("3 to 100 characters")
    expect(page.locator("#id_bank_reference")).to_have_value("ok")
    payout.refresh_from_db()
    assert payout.status == Payout.Status.APPROVED
    shots.take("finance-b-bad-bank-reference")
    page.fill("#id_bank_reference", BANK_REFERENCE)
    click_and_wait(page, "mark-paid")
    expect(page.locator(".messages")).to_contain_text("The payout is recorded as paid.")
    expect(page.get_by_test_id("bank-reference")).to_have_text(BANK_REFERENCE)
    expect(page.get_by_test_id("paid-form")).to_have_count(0)
    shots.take("finance-b-paid")
    with page.expect_download() as download_info:
        page.get_by_test_id("download-csv").click()
    download = download_info.value
    assert download.suggested_filename == f"{payout.reference}.csv"
    content = Path(download.path()).read_bytes()
    assert content.startswith(codecs.BOM_UTF8)  # so that Excel reads Chinese names
    lines = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert lines[0] == [
        "payout_reference",
        "provider_legal_name",
        "provider_registration_number",
        "claim_id",
        "provider_reference",
        "invoice_number",
        "voucher_code",
        "amount",
        "currency",
    ]
    # Amounts as decimal strings with two places and no grouping, like the API's.
    assert lines[1] == [
        payout.reference,
        provider.legal_name,
        provider.registration_number,
        str(claim.pk),
        FIRST["reference"],
        FIRST["invoice"],
        voucher.code,
        "8572.83",
        "CNY",
    ]
    assert lines[-1] == [
        payout.reference,
        provider.legal_name,
        provider.registration_number,
        "TOTAL",
        "",
        "",
        "",
        "8572.83",
        "CNY",
    ]
    assert len(lines) == 3
    page.reload()
    expect(page.locator(".timeline li").last).to_contain_text("Payout exported for the bank")
    shots.take("finance-b-export-recorded")

    # 7. What the database says.
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ACTIVE
    assert voucher.spent_cents == SUBSIDY and voucher.remaining_cents == 141_427_17
    assert list(voucher.ledger.order_by("id").values_list("kind", flat=True)) == [
        LedgerEntry.Kind.ISSUE,
        LedgerEntry.Kind.CHARGE,
    ]
    assert Claim.objects.filter(status=Claim.Status.ACCEPTED).count() == 1
    assert Claim.objects.filter(status=Claim.Status.REJECTED).count() == 2
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID and payout.bank_reference == BANK_REFERENCE
    assert payout.created_by == finance_a and payout.approved_by == finance_b
    assert payout.total_cents == SUBSIDY and list(payout.claims.all()) == [claim]
