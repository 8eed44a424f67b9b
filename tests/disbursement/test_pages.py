"""The pages where money is seen and moved: the provider portal, the officers' voucher page and
claims list, and the applicant's voucher page."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from disbursement.models import Claim, LedgerEntry
from disbursement.services.claims import claim_submit
from tests.disbursement.conftest import claim_input
from tests.factories import ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def claim_post(voucher: Any, **overrides: Any) -> dict[str, Any]:
    data = {
        "voucher_code": voucher.code.lower().replace("-", " "),
        "reference": "PORTAL-1",
        "invoice_number": "INV-P-1",
        "invoice_total_cents": "30,000.00",
        "currency": voucher.currency,
        "service_period_start": str(timezone.localdate()),
        "service_period_end": str(timezone.localdate() + timedelta(days=3)),
        "lines-TOTAL_FORMS": "4",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "50",
        "lines-0-chip_origin": "domestic",
        "lines-0-gpu_hours": "120.5",
        "lines-0-amount_cents": "10,000.00",
        "lines-0-description": "H20 cluster",
        "lines-1-chip_origin": "foreign",
        "lines-1-gpu_hours": "80",
        "lines-1-amount_cents": "20000",
    }
    data.update(overrides)
    return data


# --- provider portal ------------------------------------------------------------------------


def test_provider_submits_a_claim_from_the_form_and_sees_its_trace(
    provider_staff: Any, active_voucher: Any
) -> None:
    client = client_for(provider_staff)
    page = client.get(reverse("provider:claim_new") + f"?voucher={active_voucher.code}")
    assert page.status_code == 200
    assert active_voucher.code in page.content.decode()

    response = client.post(reverse("provider:claim_new"), claim_post(active_voucher))
    claim = Claim.objects.get(provider_reference="PORTAL-1")
    assert response.status_code == 302
    assert response["Location"] == reverse("provider:claim_detail", args=[claim.pk])
    assert claim.status == Claim.Status.ACCEPTED
    # 50% of 10,000.00 domestic + 30% of 20,000.00 foreign.
    assert claim.subsidy_cents == 5_000_00 + 6_000_00
    assert claim.lines.count() == 2

    detail = client.get(response["Location"]).content.decode()
    assert "Claim accepted." in detail
    assert "11,000.00" in detail
    assert "INV-P-1" in detail


def test_a_refused_claim_is_shown_with_its_reason(provider_staff: Any, active_voucher: Any) -> None:
    client = client_for(provider_staff)
    response = client.post(
        reverse("provider:claim_new"),
        claim_post(active_voucher, invoice_total_cents="29,000.00"),
        follow=True,
    )
    claim = Claim.objects.get(provider_reference="PORTAL-1")
    assert claim.status == Claim.Status.REJECTED
    body = response.content.decode()
    assert "Claim refused" in body
    assert claim.rejection_message in body
    assert not LedgerEntry.objects.filter(claim=claim).exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"voucher_code": ""}, "voucher_code", "This field is required."),
        ({"invoice_total_cents": "12.345"}, "invoice_total_cents", ""),
        ({"currency": "usd"}, "currency", ""),
        ({"service_period_end": "2020-09-01"}, "service_period_end", "ends before it starts"),
        ({"lines-0-amount_cents": ""}, None, "Fill in the chips, the GPU-hours and the amount"),
        ({"lines-0-gpu_hours": "-1"}, None, ""),
        ({"lines-TOTAL_FORMS": "51"}, None, ""),
    ],
)
def test_bad_claim_forms_are_refused_with_a_message_and_save_nothing(
    provider_staff: Any, active_voucher: Any, overrides: Any, field: Any, message: str
) -> None:
    client = client_for(provider_staff)
    response = client.post(reverse("provider:claim_new"), claim_post(active_voucher, **overrides))
    assert response.status_code == 200
    assert not Claim.objects.exists()
    body = response.content.decode()
    assert 'class="errorlist' in body or "error" in body
    if field:
        assert response.context["form"].errors.get(field)
    if message:
        assert message in body


def test_a_claim_with_no_lines_is_refused(provider_staff: Any, active_voucher: Any) -> None:
    data = claim_post(active_voucher)
    for i in range(2):
        for f in ("chip_origin", "gpu_hours", "amount_cents", "description"):
            data.pop(f"lines-{i}-{f}", None)
    response = client_for(provider_staff).post(reverse("provider:claim_new"), data)
    assert response.status_code == 200
    assert "Add at least one usage line." in response.content.decode()
    assert not Claim.objects.exists()


def test_a_mistyped_voucher_code_is_refused_on_the_form(
    provider_staff: Any, active_voucher: Any
) -> None:
    code = active_voucher.code
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    response = client_for(provider_staff).post(
        reverse("provider:claim_new"), claim_post(active_voucher, voucher_code=wrong)
    )
    assert response.status_code == 200
    assert "check character" in response.content.decode()
    assert not Claim.objects.exists()


def test_sending_the_same_form_twice_makes_one_claim(
    provider_staff: Any, active_voucher: Any
) -> None:
    client = client_for(provider_staff)
    first = client.post(reverse("provider:claim_new"), claim_post(active_voucher))
    client.get(first["Location"])  # shows (and so clears) "Claim accepted."
    second = client.post(reverse("provider:claim_new"), claim_post(active_voucher))
    assert first["Location"] == second["Location"]
    assert Claim.objects.count() == 1
    shown = [str(m) for m in client.get(second["Location"]).context["messages"]]
    assert any("already recorded" in m for m in shown), shown
    assert not any(m == "Claim accepted." for m in shown)


def test_a_reference_reused_for_another_invoice_is_shown_at_the_reference(
    provider_staff: Any, active_voucher: Any
) -> None:
    client = client_for(provider_staff)
    client.post(reverse("provider:claim_new"), claim_post(active_voucher))
    response = client.post(
        reverse("provider:claim_new"), claim_post(active_voucher, invoice_total_cents="30,000.01")
    )
    assert response.status_code == 200
    assert "already used for a different claim" in response.context["form"].errors["reference"][0]
    assert Claim.objects.count() == 1


def test_the_dashboard_lists_only_this_providers_claims(
    provider_staff: Any, active_voucher: Any, program: Any
) -> None:
    from disbursement.models import ProviderStaff

    mine = claim_submit(
        actor=provider_staff,
        provider=provider_staff.provider_staff.provider,
        data=claim_input(active_voucher),
    ).claim
    other = ProviderFactory()
    program.approved_providers.add(other)
    stranger = UserFactory(role="provider")
    ProviderStaff.objects.create(provider=other, user=stranger)

    body = client_for(provider_staff).get(reverse("provider:dashboard")).content.decode()
    assert mine.invoice_number in body
    # The monthly statement check is one click away, and opens for the provider's staff.
    assert reverse("reconciliation:statement_upload") in body
    upload = client_for(provider_staff).get(reverse("reconciliation:statement_upload"))
    assert upload.status_code == 200
    assert (
        client_for(stranger).get(reverse("provider:claim_detail", args=[mine.pk])).status_code
        == 404
    )
    assert (
        mine.invoice_number
        not in client_for(stranger).get(reverse("provider:dashboard")).content.decode()
    )

    filtered = client_for(provider_staff).get(reverse("provider:dashboard") + "?status=rejected")
    assert mine.invoice_number not in filtered.content.decode()


@pytest.mark.parametrize("role", ["applicant", "reviewer", "approver", "auditor", "finance"])
def test_only_provider_staff_reach_the_provider_portal(role: str) -> None:
    user = UserFactory(role=role)
    for name in ("provider:dashboard", "provider:claim_new"):
        assert client_for(user).get(reverse(name)).status_code == 403


def test_a_provider_account_without_a_provider_is_refused() -> None:
    user = UserFactory(role="provider")
    assert client_for(user).get(reverse("provider:dashboard")).status_code == 403


def test_the_portal_needs_a_login() -> None:
    response = Client().get(reverse("provider:dashboard"))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_provider_dashboard_query_count_does_not_grow_with_claims(
    provider_staff: Any, active_voucher: Any, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        claim_submit(
            actor=provider_staff,
            provider=provider_staff.provider_staff.provider,
            data=claim_input(active_voucher),
        )
    client = client_for(provider_staff)
    client.get(reverse("provider:dashboard"))
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("provider:dashboard"))
    for _ in range(20):
        claim_submit(
            actor=provider_staff,
            provider=provider_staff.provider_staff.provider,
            data=claim_input(active_voucher),
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("provider:dashboard"))


# --- officers -------------------------------------------------------------------------------


@pytest.fixture
def spent_voucher(provider_staff: Any, active_voucher: Any) -> Any:
    claim_submit(
        actor=provider_staff,
        provider=provider_staff.provider_staff.provider,
        data=claim_input(active_voucher),
    )
    active_voucher.refresh_from_db()
    return active_voucher


def test_officer_voucher_page_shows_ledger_claims_and_chart(
    approver: Any, spent_voucher: Any
) -> None:
    response = client_for(approver).get(reverse("officer:voucher_detail", args=[spent_voucher.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert spent_voucher.code in body
    assert "<svg" in body
    assert "11,000.00" in body  # the claim's subsidy, in the ledger and the claims table
    assert len(response.context["ledger"]) == 2  # issue + claim
    # The audit timeline is for auditors and administrators; an approver is not shown the link.
    assert reverse("audit:voucher_timeline", args=[spent_voucher.pk]) not in body


def test_officer_suspends_and_reinstates_from_the_page(approver: Any, spent_voucher: Any) -> None:
    client = client_for(approver)
    url = reverse("officer:voucher_suspend", args=[spent_voucher.pk])
    response = client.post(url, {"suspend-reason": "Invoice under investigation"})
    assert response.status_code == 302
    spent_voucher.refresh_from_db()
    assert spent_voucher.status == "suspended"
    response = client.post(
        reverse("officer:voucher_reinstate", args=[spent_voucher.pk]),
        {"reinstate-reason": "Investigation closed, all clear"},
    )
    spent_voucher.refresh_from_db()
    assert spent_voucher.status == "active"


def test_a_short_reason_is_refused_on_the_page(approver: Any, spent_voucher: Any) -> None:
    response = client_for(approver).post(
        reverse("officer:voucher_suspend", args=[spent_voucher.pk]), {"suspend-reason": "no"}
    )
    assert response.status_code == 400
    spent_voucher.refresh_from_db()
    assert spent_voucher.status == "active"


def test_clawback_more_than_spent_is_refused_on_the_page(approver: Any, spent_voucher: Any) -> None:
    client = client_for(approver)
    url = reverse("officer:voucher_clawback", args=[spent_voucher.pk])
    response = client.post(
        url, {"clawback-amount_cents": "999,999.00", "clawback-reason": "Ineligible usage found"}
    )
    assert response.status_code == 400
    spent_voucher.refresh_from_db()
    assert spent_voucher.spent_cents == 11_000_00
    response = client.post(
        url, {"clawback-amount_cents": "1,000.00", "clawback-reason": "Ineligible usage found"}
    )
    assert response.status_code == 302
    spent_voucher.refresh_from_db()
    assert spent_voucher.spent_cents == 10_000_00


def test_officer_reverses_a_claim_from_the_page(approver: Any, spent_voucher: Any) -> None:
    claim = Claim.objects.get(voucher=spent_voucher)
    response = client_for(approver).post(
        reverse("officer:claim_reverse", args=[spent_voucher.pk, claim.pk]),
        {f"reverse-{claim.pk}-reason": "Provider credited the invoice"},
    )
    assert response.status_code == 302
    claim.refresh_from_db()
    spent_voucher.refresh_from_db()
    assert claim.status == Claim.Status.REVERSED
    assert spent_voucher.spent_cents == 0


def test_a_refused_reversal_opens_only_its_own_claim(
    approver: Any, provider_staff: Any, spent_voucher: Any
) -> None:
    claim_submit(
        actor=provider_staff,
        provider=provider_staff.provider_staff.provider,
        data=claim_input(spent_voucher),
    )
    first, second = Claim.objects.filter(voucher=spent_voucher).order_by("pk")
    response = client_for(approver).post(
        reverse("officer:claim_reverse", args=[spent_voucher.pk, second.pk]),
        {f"reverse-{second.pk}-reason": "short"},
    )
    assert response.status_code == 400
    forms = {c.pk: (c.reverse_form, c.reverse_open) for c in response.context["claims"]}
    assert forms[second.pk][1] and forms[second.pk][0].errors
    assert not forms[first.pk][1] and not forms[first.pk][0].is_bound
    body = response.content.decode()
    assert body.count(f'id="id_reverse-{second.pk}-reason"') == 1
    assert body.count(f'id="id_reverse-{first.pk}-reason"') == 1
    second.refresh_from_db()
    assert second.status == Claim.Status.ACCEPTED


def test_auditors_see_the_voucher_page_but_cannot_act(auditor: Any, spent_voucher: Any) -> None:
    client = client_for(auditor)
    page = client.get(reverse("officer:voucher_detail", args=[spent_voucher.pk]))
    assert page.status_code == 200
    assert not page.context["can_act"]
    timeline = reverse("audit:voucher_timeline", args=[spent_voucher.pk])
    assert timeline in page.content.decode()  # one click to the voucher's whole history
    assert client.get(timeline).status_code == 200
    response = client.post(
        reverse("officer:voucher_suspend", args=[spent_voucher.pk]),
        {"suspend-reason": "Auditors cannot suspend"},
    )
    assert response.status_code in (400, 403)
    spent_voucher.refresh_from_db()
    assert spent_voucher.status == "active"


def test_applicants_and_providers_cannot_open_the_officer_voucher_page(
    applicant: Any, provider_staff: Any, spent_voucher: Any
) -> None:
    for user in (applicant, provider_staff):
        url = reverse("officer:voucher_detail", args=[spent_voucher.pk])
        assert client_for(user).get(url).status_code == 403


def test_officer_claims_list_filters_by_status(approver: Any, spent_voucher: Any) -> None:
    client = client_for(approver)
    claim = Claim.objects.get(voucher=spent_voucher)
    assert claim.invoice_number in client.get(reverse("officer:claims")).content.decode()
    detail = client.get(reverse("officer:claim_detail", args=[claim.pk]))
    assert detail.status_code == 200
    assert reverse("officer:voucher_detail", args=[spent_voucher.pk]) in detail.content.decode()
    rejected = client.get(reverse("officer:claims") + "?status=rejected").content.decode()
    assert claim.invoice_number not in rejected


# --- applicant ------------------------------------------------------------------------------


def test_applicant_sees_spending_ledger_and_claims_on_the_voucher_page(
    applicant: Any, spent_voucher: Any
) -> None:
    response = client_for(applicant).get(
        reverse("applicants:voucher_detail", args=[spent_voucher.pk])
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<svg" in body
    assert "11,000.00" in body
    assert Claim.objects.get(voucher=spent_voucher).invoice_number in body


def test_another_applicant_cannot_see_the_voucher(other_applicant: Any, spent_voucher: Any) -> None:
    response = client_for(other_applicant).get(
        reverse("applicants:voucher_detail", args=[spent_voucher.pk])
    )
    assert response.status_code == 404
