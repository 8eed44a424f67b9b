"""Decisions with four eyes, the budget that cannot be over-committed, voucher issuance."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse

from applicants import services as applicant_services
from applicants.models import Application
from audit.models import AuditAction, AuditEvent
from core.exceptions import ConflictError, DomainError, NotAllowedError
from notifications.models import Notification
from tests.concurrency import run_concurrently
from tests.conftest import COMPLETE_ANSWERS, api_as, declare_no_conflict
from tests.factories import OrganizationFactory, ProgramFactory, UserFactory, pdf_upload
from tests.vouchers.conftest import make_ready
from vouchers import codes, services
from vouchers.models import AwardLetter, Decision, Program, Voucher

pytestmark = pytest.mark.django_db


def _approve(app, approver, cents=150_000_00):
    return services.application_approve(actor=approver, application_id=app.pk, amount_cents=cents)


def test_approval_commits_budget_issues_voucher_and_queues_the_letter(ready, approver, program):
    decision = _approve(ready, approver)
    ready.refresh_from_db()
    program.refresh_from_db()
    voucher = Voucher.objects.get(application=ready)
    assert decision.outcome == "approved" and ready.status == Application.Status.APPROVED
    assert program.committed_cents == 150_000_00
    assert voucher.cap_cents == 150_000_00 and voucher.spent_cents == 0
    assert voucher.status == Voucher.Status.ISSUED
    assert codes.normalize(voucher.code) == voucher.code
    assert (voucher.rate_standard_bps, voucher.rate_domestic_bps) == (
        program.rate_standard_bps,
        program.rate_domestic_bps,
    )
    assert voucher.valid_until - voucher.valid_from == timedelta(days=program.voucher_validity_days)
    assert voucher.terms["program_code"] == program.code
    letter = AwardLetter.objects.get(voucher=voucher)
    assert letter.version == 1 and letter.reference == f"AL-{ready.reference}-1"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        AuditAction.APPLICATION_APPROVED,
        AuditAction.PROGRAM_COMMITTED,
        AuditAction.VOUCHER_ISSUED,
        AuditAction.LETTER_REQUESTED,
    } <= actions
    committed = AuditEvent.objects.get(action=AuditAction.PROGRAM_COMMITTED)
    assert committed.data["committed_cents"] == {"before": 0, "after": 150_000_00}
    assert Notification.objects.filter(kind="application_approved").exists()


def test_changing_the_program_later_does_not_change_the_voucher(ready, approver, program):
    _approve(ready, approver)
    admin = UserFactory(role="admin")
    services.program_update(
        actor=admin,
        program_id=program.pk,
        rate_standard_bps=1000,
        rate_domestic_bps=2000,
        voucher_validity_days=30,
        terms="New terms",
    )
    voucher = Voucher.objects.get(application=ready)
    assert (voucher.rate_standard_bps, voucher.rate_domestic_bps) == (3000, 5000)
    assert voucher.terms["terms"] == "" and voucher.terms["rate_standard_bps"] == 3000


def test_approving_your_own_review_is_refused(ready, reviewer, approver):
    reviewer.role = "approver"  # promoted after reviewing: still the same pair of eyes
    reviewer.save()
    with pytest.raises(NotAllowedError) as exc:
        _approve(ready, reviewer)
    assert exc.value.code == "four_eyes"
    assert not Decision.objects.exists()


@pytest.mark.parametrize(
    ("cents", "code"),
    [
        (139_999_99, "amount_out_of_range"),
        (280_000_01, "amount_out_of_range"),
        (180_000_01, "amount_above_request"),
    ],
)
def test_approving_outside_the_limits_is_refused(ready, approver, program, cents, code):
    with pytest.raises(DomainError) as exc:
        _approve(ready, approver, cents)
    assert exc.value.code == code and "amount" in exc.value.fields
    program.refresh_from_db()
    assert program.committed_cents == 0 and not Voucher.objects.exists()


def test_approving_above_the_remaining_budget_is_refused(ready, approver, program):
    Program.objects.filter(pk=program.pk).update(
        budget_cents=1_000_000_00, committed_cents=900_000_00
    )
    with pytest.raises(DomainError) as exc:
        _approve(ready, approver, 150_000_00)
    assert exc.value.code == "budget_exhausted" and "100,000.00" in exc.value.message
    Program.objects.filter(pk=program.pk).update(budget_cents=1_040_000_00)
    _approve(ready, approver, 140_000_00)  # exactly what is left
    program.refresh_from_db()
    assert program.committed_cents == program.budget_cents == 1_040_000_00


def test_approving_twice_is_refused_and_commits_once(ready, approver, program):
    _approve(ready, approver)
    with pytest.raises(ConflictError) as exc:
        _approve(ready, approver)
    assert exc.value.code == "already_decided"
    program.refresh_from_db()
    assert program.committed_cents == 150_000_00 and Voucher.objects.count() == 1


def test_deciding_a_withdrawn_application_is_refused(ready, approver, applicant):
    applicant_services.application_withdraw(actor=applicant, application_id=ready.pk)
    with pytest.raises(ConflictError) as exc:
        _approve(ready, approver)
    assert exc.value.code == "invalid_status"
    with pytest.raises(ConflictError):
        services.application_reject(actor=approver, application_id=ready.pk, reasons="x" * 40)


def test_approval_needs_the_required_reviews(submitted, approver):
    declare_no_conflict(approver, submitted)
    with pytest.raises(DomainError) as exc:
        _approve(submitted, approver)
    assert exc.value.code == "reviews_incomplete"


def test_approval_needs_the_approver_role_and_a_declaration(ready, reviewer):
    other = UserFactory(role="approver")
    with pytest.raises(NotAllowedError):
        _approve(ready, other)  # no conflict declaration yet
    with pytest.raises(NotAllowedError):
        _approve(ready, UserFactory(role="admin"))


def test_rejection_with_reasons_from_screening_or_review(ready, approver):
    with pytest.raises(DomainError) as exc:
        services.application_reject(actor=approver, application_id=ready.pk, reasons="no")
    assert exc.value.code == "reasons_required"
    decision = services.application_reject(
        actor=approver,
        application_id=ready.pk,
        reasons="The compute plan does not support the amount requested.",
    )
    ready.refresh_from_db()
    assert ready.status == "rejected" and decision.amount_cents is None
    assert Notification.objects.filter(kind="application_rejected").exists()
    with pytest.raises(ConflictError):
        services.application_reject(actor=approver, application_id=ready.pk, reasons="x" * 40)


def test_rejected_applicant_reads_the_reasons(client, ready, approver, applicant):
    services.application_reject(
        actor=approver,
        application_id=ready.pk,
        reasons="The compute plan does not support the amount requested.",
    )
    client.force_login(applicant)
    page = client.get(reverse("applicants:application_detail", args=[ready.pk])).content.decode()
    assert 'data-testid="rejected"' in page and "does not support the amount" in page
    assert (
        api_as(applicant).get(f"/api/v1/applications/{ready.pk}/decision/").json()["outcome"]
        == "rejected"
    )


def test_approve_through_the_api_and_bad_amounts(ready, approver):
    client = api_as(approver)
    for amount, code in [
        ("1e5", "scientific_notation"),
        ("-1", "negative"),
        ("999999999999999999999", "too_large"),
        ("300000.00", "amount_out_of_range"),
    ]:
        response = client.post(
            f"/api/v1/applications/{ready.pk}/approve/", {"amount": amount}, format="json"
        )
        assert response.status_code == 400 and response.json()["error"]["code"] == code, amount
    response = client.post(
        f"/api/v1/applications/{ready.pk}/approve/", {"amount": "150000.00"}, format="json"
    )
    assert response.status_code == 201 and response.json()["amount"] == "150000.00"
    again = client.post(
        f"/api/v1/applications/{ready.pk}/approve/", {"amount": "150000.00"}, format="json"
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_decided"


def test_approve_through_the_page_double_click(client, ready, approver):
    client.force_login(approver)
    url = reverse("officer:approve", args=[ready.pk])
    first = client.post(url, {"amount_cents": "150,000.00"})
    second = client.post(url, {"amount_cents": "150,000.00"})
    assert first.status_code == 302
    assert second.status_code in (400, 409) and Voucher.objects.count() == 1


def test_four_eyes_page_shows_why(client, ready, reviewer):
    reviewer.role = "approver"
    reviewer.save()
    client.force_login(reviewer)
    page = client.get(reverse("officer:application_detail", args=[ready.pk])).content.decode()
    assert "another approver must decide it" in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_approvals_never_overcommit_the_budget(provider):
    """50 approvers approve 50 ready applications at once; the budget fits exactly 10."""
    program = ProgramFactory(budget_cents=10 * 150_000_00, providers=[provider])
    reviewer = UserFactory(role="reviewer")
    admin = UserFactory(role="admin")
    ready_ids = []
    for _ in range(50):
        founder = UserFactory()
        org = OrganizationFactory(owner=founder)
        app = applicant_services.application_create(
            actor=founder, organization_id=org.pk, program_id=program.pk
        )
        applicant_services.application_update(
            actor=founder,
            application_id=app.pk,
            values={
                **COMPLETE_ANSWERS,
                "intended_provider": provider,
                "requested_amount_cents": 150_000_00,
            },
        )
        applicant_services.document_add(
            actor=founder, application_id=app.pk, kind="business_licence", upload=pdf_upload()
        )
        app = applicant_services.application_submit(actor=founder, application_id=app.pk)
        make_ready(app, reviewer=reviewer, approver=admin)
        ready_ids.append(app.pk)
    approvers = []
    for app_id in ready_ids:
        approver = UserFactory(role="approver")
        declare_no_conflict(approver, Application.objects.get(pk=app_id))
        approvers.append((approver, app_id))
    queue = iter(approvers)

    def approve_one():
        approver, app_id = next(queue)
        return services.application_approve(
            actor=approver, application_id=app_id, amount_cents=150_000_00
        )

    results = run_concurrently(approve_one, threads=50)
    decisions = [r for r in results if isinstance(r, Decision)]
    refusals = [r for r in results if isinstance(r, DomainError)]
    assert len(decisions) == 10 and len(refusals) == 40
    assert all(r.code == "budget_exhausted" for r in refusals)
    program.refresh_from_db()
    assert program.committed_cents == program.budget_cents == 1_500_000_00
    assert Voucher.objects.count() == 10
    assert Application.objects.filter(status="approved").count() == 10
    assert connection.vendor == "postgresql"
