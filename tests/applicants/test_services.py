from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from accounts.models import User
from applicants import services
from applicants.models import Application, ApplicationVersion, Document, Membership, Organization
from audit.models import AuditAction, AuditEvent
from core.exceptions import ConflictError, DomainError, NotAllowedError
from notifications.models import Notification
from tests.concurrency import run_concurrently
from tests.conftest import COMPLETE_ANSWERS, declare_no_conflict
from tests.factories import (
    OrganizationFactory,
    ProgramFactory,
    ProviderFactory,
    UserFactory,
    jpeg_bytes,
    make_uscc,
    pdf_bytes,
    pdf_upload,
    png_bytes,
)

pytestmark = pytest.mark.django_db

VALID_USCC = "91350100M000100Y43"


def _org(actor, number=VALID_USCC, **extra):
    values = dict(
        legal_name="深算智能科技（上海）有限公司",
        registration_scheme="cn_uscc",
        registration_number=number,
        region="CN-SH",
        incorporated_on=date(2023, 5, 1),
        headcount=20,
    )
    values.update(extra)
    return services.organization_create(actor=actor, **values)


# --- Organizations ------------------------------------------------------------------------------


def test_organization_create_makes_actor_owner_and_audits(applicant):
    org = _org(applicant, number=" 9135 0100 m000 100y43 ")
    assert org.registration_number == VALID_USCC
    assert Membership.objects.get(organization=org, user=applicant).role == "owner"
    assert AuditEvent.objects.filter(
        action=AuditAction.ORGANIZATION_CREATED, target_id=str(org.pk)
    ).exists()


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("91350100M000100Y44", "uscc_check_character"),
        ("91350100M000100Y4", "uscc_length"),
        ("91350100M000100Y433", "uscc_length"),
        ("91350100M0001O0Y43", "uscc_forbidden_letter"),
        ("9135010IM000100Y43", "uscc_forbidden_letter"),
        ("91350100M000100S43", "uscc_forbidden_letter"),
        ("913501V0M000100Y43", "uscc_forbidden_letter"),
        ("91350100M00Z100Y43", "uscc_forbidden_letter"),
        ("91A50100M000100Y43", "uscc_division"),
        ("91350100M000100Y4!", "uscc_invalid_character"),
    ],
)
def test_organization_create_rejects_bad_uscc_and_stores_nothing(applicant, number, code):
    with pytest.raises(DomainError) as exc:
        _org(applicant, number=number)
    assert exc.value.code == code
    assert "registration_number" in exc.value.fields
    assert not Organization.objects.exists()
    assert not Membership.objects.exists()


def test_organization_create_refuses_a_taken_number_and_says_what_to_do(applicant, other_applicant):
    _org(applicant)
    with pytest.raises(ConflictError) as exc:
        _org(other_applicant)
    assert exc.value.code == "registration_number_taken"
    assert "invite" in exc.value.message
    assert Organization.objects.count() == 1


def test_organization_create_accepts_other_scheme_free_text(applicant):
    org = _org(applicant, number="  hrb 12345 b ", registration_scheme="other", region="OTHER")
    assert org.registration_number == "HRB 12345 B"


def test_organization_create_rejects_future_incorporation(applicant):
    with pytest.raises(DomainError) as exc:
        _org(applicant, incorporated_on=date.today() + timedelta(days=1))
    assert "incorporated_on" in exc.value.fields


def test_organization_create_refused_for_officers(reviewer):
    with pytest.raises(NotAllowedError):
        _org(reviewer)


def test_organization_update_records_before_and_after(applicant, organization):
    services.organization_update(actor=applicant, organization_id=organization.pk, headcount=99)
    event = AuditEvent.objects.filter(action=AuditAction.ORGANIZATION_UPDATED).get()
    assert event.data["headcount"] == {"before": 12, "after": 99}


def test_organization_update_cannot_change_registration_number(applicant, organization):
    with pytest.raises(DomainError):
        services.organization_update(
            actor=applicant, organization_id=organization.pk, registration_number="X"
        )


def test_invitation_round_trip(
    applicant, organization, mailoutbox, django_capture_on_commit_callbacks
):
    invitee = UserFactory(email="colleague@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = services.invitation_create(
            actor=applicant, organization_id=organization.pk, email="Colleague@Example.com"
        )
    assert invitation.email == "colleague@example.com"
    assert token in mailoutbox[-1].body
    membership = services.invitation_accept(actor=invitee, token=token)
    assert membership.organization == organization and membership.role == "member"
    assert services.invitation_accept(actor=invitee, token=token) == membership  # repeat is a no-op


def test_invitation_for_another_email_is_refused(applicant, organization, other_applicant):
    _invitation, token = services.invitation_create(
        actor=applicant, organization_id=organization.pk, email="someone@example.com"
    )
    with pytest.raises(NotAllowedError):
        services.invitation_accept(actor=other_applicant, token=token)


def test_invitation_expired(applicant, organization):
    invitee = UserFactory(email="late@example.com")
    invitation, token = services.invitation_create(
        actor=applicant, organization_id=organization.pk, email="late@example.com"
    )
    invitation.expires_at = timezone.now() - timedelta(seconds=1)
    invitation.save()
    with pytest.raises(DomainError) as exc:
        services.invitation_accept(actor=invitee, token=token)
    assert exc.value.code == "invitation_expired"


def test_invitation_of_existing_member_is_a_conflict(applicant, organization):
    with pytest.raises(ConflictError):
        services.invitation_create(
            actor=applicant, organization_id=organization.pk, email=applicant.email
        )


# --- Creating drafts ----------------------------------------------------------------------------


def test_application_create_assigns_reference_and_currency(applicant, organization, program):
    app = services.application_create(
        actor=applicant, organization_id=organization.pk, program_id=program.pk
    )
    assert app.reference == f"{program.code}-{app.pk:06d}"
    assert app.status == Application.Status.DRAFT
    assert app.currency == program.currency


def test_application_create_refuses_second_open_application(
    applicant, organization, program, draft
):
    with pytest.raises(ConflictError) as exc:
        services.application_create(
            actor=applicant, organization_id=organization.pk, program_id=program.pk
        )
    assert exc.value.code == "application_exists"
    assert draft.reference in exc.value.message


def test_application_create_allowed_again_after_withdrawal(applicant, organization, program, draft):
    services.application_withdraw(actor=applicant, application_id=draft.pk)
    again = services.application_create(
        actor=applicant, organization_id=organization.pk, program_id=program.pk
    )
    assert again.pk != draft.pk


@pytest.mark.parametrize(
    ("opens", "closes", "code"),
    [(+1, +10, "program_not_open"), (-10, -1, "program_closed")],
)
def test_application_create_refused_outside_program_window(
    applicant, organization, opens, closes, code
):
    now = timezone.now()
    program = ProgramFactory(
        opens_at=now + timedelta(days=opens), closes_at=now + timedelta(days=closes)
    )
    with pytest.raises(DomainError) as exc:
        services.application_create(
            actor=applicant, organization_id=organization.pk, program_id=program.pk
        )
    assert exc.value.code == code
    assert not Application.objects.exists()


def test_application_create_refused_for_unpublished_program(applicant, organization):
    program = ProgramFactory(is_published=False)
    with pytest.raises(DomainError) as exc:
        services.application_create(
            actor=applicant, organization_id=organization.pk, program_id=program.pk
        )
    assert exc.value.code == "program_not_open"


def test_application_create_refused_for_non_member(other_applicant, organization, program):
    with pytest.raises(NotAllowedError):
        services.application_create(
            actor=other_applicant, organization_id=organization.pk, program_id=program.pk
        )


# --- Editing drafts -----------------------------------------------------------------------------


def test_application_update_saves_only_given_fields_and_audits(applicant, draft):
    services.application_update(
        actor=applicant, application_id=draft.pk, values={"title": "  Legal LLM  "}
    )
    draft.refresh_from_db()
    assert draft.title == "Legal LLM"
    event = AuditEvent.objects.filter(action=AuditAction.APPLICATION_UPDATED).get()
    assert event.data == {"title": {"before": "", "after": "Legal LLM"}}


@pytest.mark.parametrize(
    "text",
    [
        "面向法律领域的大模型微调 🚀",
        "نموذج لغوي كبير للعقود",  # right-to-left script
        "שלום עולם ‏mixed‎ direction",
        "a" * 10_000,
    ],
)
def test_application_update_keeps_unicode_and_long_text_exactly(applicant, draft, text):
    services.application_update(
        actor=applicant, application_id=draft.pk, values={"description": text}
    )
    draft.refresh_from_db()
    assert draft.description == text


def test_application_update_rejects_text_over_limit(applicant, draft):
    with pytest.raises(DomainError) as exc:
        services.application_update(
            actor=applicant, application_id=draft.pk, values={"description": "a" * 10_001}
        )
    assert "description" in exc.value.fields
    draft.refresh_from_db()
    assert draft.description == ""


@pytest.mark.parametrize("cents", [139_999_99, 280_000_01, 2**63 - 1])
def test_application_update_rejects_amount_outside_program_range(applicant, draft, cents):
    with pytest.raises(DomainError) as exc:
        services.application_update(
            actor=applicant, application_id=draft.pk, values={"requested_amount_cents": cents}
        )
    assert exc.value.code == "amount_out_of_range"
    draft.refresh_from_db()
    assert draft.requested_amount_cents is None


@pytest.mark.parametrize("cents", [140_000_00, 280_000_00])
def test_application_update_accepts_floor_and_ceiling(applicant, draft, cents):
    services.application_update(
        actor=applicant, application_id=draft.pk, values={"requested_amount_cents": cents}
    )
    draft.refresh_from_db()
    assert draft.requested_amount_cents == cents


def test_application_update_rejects_provider_not_approved_for_program(applicant, draft):
    stranger = ProviderFactory()
    with pytest.raises(DomainError) as exc:
        services.application_update(
            actor=applicant, application_id=draft.pk, values={"intended_provider": stranger}
        )
    assert exc.value.code == "provider_not_approved"


def test_application_update_refuses_fields_only_the_system_sets(applicant, draft):
    with pytest.raises(DomainError) as exc:
        services.application_update(
            actor=applicant, application_id=draft.pk, values={"status": "approved"}
        )
    assert exc.value.code == "read_only_field"
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_application_update_after_submit_is_refused(applicant, submitted):
    with pytest.raises(ConflictError) as exc:
        services.application_update(
            actor=applicant, application_id=submitted.pk, values={"title": "changed"}
        )
    assert exc.value.code == "application_locked"
    submitted.refresh_from_db()
    assert submitted.title == COMPLETE_ANSWERS["title"]


def test_application_update_by_other_organization_is_refused(other_applicant, draft):
    with pytest.raises(NotAllowedError):
        services.application_update(
            actor=other_applicant, application_id=draft.pk, values={"title": "x"}
        )


def test_declarations_set_declared_at_only_when_complete(applicant, draft):
    services.application_update(
        actor=applicant, application_id=draft.pk, values={"declares_truthful": True}
    )
    draft.refresh_from_db()
    assert draft.declared_at is None
    services.application_update(
        actor=applicant,
        application_id=draft.pk,
        values={
            "declares_no_double_funding": True,
            "declares_no_provider_affiliation": True,
            "declared_by_name": "Li Wei",
        },
    )
    draft.refresh_from_db()
    assert draft.declared_at is not None


# --- Documents ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("licence.pdf", pdf_bytes(), "application/pdf"),
        ("licence.PNG", png_bytes(), "image/png"),
        ("licence.jpeg", jpeg_bytes(), "image/jpeg"),
        ("营业执照.jpg", jpeg_bytes(), "image/jpeg"),
    ],
)
def test_document_add_accepts_pdf_png_jpeg_by_content(applicant, draft, name, data, content_type):
    doc = services.document_add(
        actor=applicant,
        application_id=draft.pk,
        kind="business_licence",
        upload=SimpleUploadedFile(name, data),
    )
    assert doc.content_type == content_type
    assert doc.size_bytes == len(data)
    assert doc.original_name == name
    with doc.file.open("rb") as stored:
        assert stored.read() == data


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        (
            "setup.pdf",
            b"MZ\x90\x00\x03" + b"\x00" * 2000,
            "file_type_not_allowed",
        ),  # a Windows executable
        (
            "run.pdf",
            b"\x7fELF\x02\x01\x01" + b"\x00" * 2000,
            "file_type_not_allowed",
        ),  # a Linux executable
        ("notes.pdf", "这不是PDF".encode() * 10, "file_type_not_allowed"),
        ("empty.pdf", b"", "empty_file"),
        ("licence.png", pdf_bytes(), "file_extension_mismatch"),
        ("truncated.pdf", pdf_bytes()[:40], "file_unreadable"),
        ("broken.png", png_bytes()[:30], "file_unreadable"),
    ],
)
def test_document_add_rejects_bad_files_and_stores_nothing(applicant, draft, name, data, code):
    with pytest.raises(DomainError) as exc:
        services.document_add(
            actor=applicant,
            application_id=draft.pk,
            kind="business_licence",
            upload=SimpleUploadedFile(name, data),
        )
    assert exc.value.code == code
    assert exc.value.message
    assert not Document.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.DOCUMENT_ADDED).exists()


def test_document_add_rejects_file_over_limit(applicant, draft, settings):
    settings.DOCUMENT_MAX_BYTES = 10 * 1024 * 1024
    big = pdf_bytes() + b"%" + b"0" * (10 * 1024 * 1024)
    with pytest.raises(DomainError) as exc:
        services.document_add(
            actor=applicant,
            application_id=draft.pk,
            kind="business_licence",
            upload=SimpleUploadedFile("big.pdf", big),
        )
    assert exc.value.code == "file_too_large"
    assert "10.0" in exc.value.message
    assert not Document.objects.exists()


def test_document_add_rejects_unknown_kind(applicant, draft):
    with pytest.raises(DomainError) as exc:
        services.document_add(
            actor=applicant, application_id=draft.pk, kind="selfie", upload=pdf_upload()
        )
    assert exc.value.code == "invalid_kind"


def test_document_remove_keeps_file_for_earlier_versions(applicant, draft):
    doc = services.document_add(
        actor=applicant, application_id=draft.pk, kind="other", upload=pdf_upload()
    )
    services.document_remove(actor=applicant, application_id=draft.pk, document_id=doc.pk)
    doc.refresh_from_db()
    assert doc.removed_at is not None
    assert doc.file.storage.exists(doc.file.name)


def test_document_add_after_submit_is_refused(applicant, submitted):
    with pytest.raises(ConflictError):
        services.document_add(
            actor=applicant, application_id=submitted.pk, kind="other", upload=pdf_upload()
        )


# --- Submitting ---------------------------------------------------------------------------------


def test_application_submit_freezes_version_and_sends_receipt(
    applicant, complete_draft, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        app = services.application_submit(actor=applicant, application_id=complete_draft.pk)
    assert app.status == Application.Status.IN_REVIEW  # every eligibility rule passed
    assert app.version == 1
    version = ApplicationVersion.objects.get(application=app)
    assert version.receipt_number == f"{app.reference}-V1"
    assert version.snapshot["title"] == COMPLETE_ANSWERS["title"]
    assert version.snapshot["requested_amount"] == "180000.00"
    assert len(version.content_sha256) == 64
    assert version.receipt_number in mailoutbox[-1].subject
    assert mailoutbox[-1].to == [applicant.email]
    assert (
        AuditEvent.objects.filter(
            action=AuditAction.APPLICATION_SUBMITTED, target_id=str(app.pk)
        ).count()
        == 1
    )


def test_application_submit_twice_is_one_submission(applicant, complete_draft):
    first = services.application_submit(actor=applicant, application_id=complete_draft.pk)
    second = services.application_submit(actor=applicant, application_id=complete_draft.pk)
    assert first.submitted_at == second.submitted_at
    assert ApplicationVersion.objects.filter(application=complete_draft).count() == 1
    assert Notification.objects.filter(kind="application_submitted").count() == 1


def test_application_submit_incomplete_lists_what_is_missing(applicant, draft):
    with pytest.raises(DomainError) as exc:
        services.application_submit(actor=applicant, application_id=draft.pk)
    assert exc.value.code == "incomplete"
    assert {"title", "requested_amount_cents", "documents", "declares_truthful"} <= set(
        exc.value.fields
    )
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert not ApplicationVersion.objects.exists()


def test_application_submit_requires_verified_email(applicant, complete_draft):
    User.objects.filter(pk=applicant.pk).update(email_verified_at=None)
    applicant.refresh_from_db()
    with pytest.raises(DomainError) as exc:
        services.application_submit(actor=applicant, application_id=complete_draft.pk)
    assert exc.value.code == "email_unverified"


def test_application_submit_after_program_closed_is_refused(applicant, complete_draft):
    program = complete_draft.program
    program.closes_at = timezone.now() - timedelta(minutes=1)
    program.opens_at = timezone.now() - timedelta(days=30)
    program.save()
    with pytest.raises(DomainError) as exc:
        services.application_submit(actor=applicant, application_id=complete_draft.pk)
    assert exc.value.code == "program_closed"


def test_application_submit_rechecks_amount_against_current_ceiling(applicant, complete_draft):
    program = complete_draft.program
    program.award_ceiling_cents = 150_000_00
    program.save()
    with pytest.raises(DomainError) as exc:
        services.application_submit(actor=applicant, application_id=complete_draft.pk)
    assert exc.value.code == "amount_out_of_range"


def test_application_submit_by_officer_is_refused(reviewer, complete_draft):
    with pytest.raises(NotAllowedError):
        services.application_submit(actor=reviewer, application_id=complete_draft.pk)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_application_submit_concurrent_double_click_gives_exactly_one_version(
    applicant, complete_draft
):
    """Eight threads (two tabs, double clicks), each with its own connection, submit at once."""
    results = run_concurrently(
        lambda: services.application_submit(actor=applicant, application_id=complete_draft.pk),
        threads=8,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert ApplicationVersion.objects.filter(application=complete_draft).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.APPLICATION_SUBMITTED).count() == 1
    assert Notification.objects.filter(kind="application_submitted").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_application_create_race_leaves_one_open_application(applicant, organization, program):
    results = run_concurrently(
        lambda: services.application_create(
            actor=applicant, organization_id=organization.pk, program_id=program.pk
        ),
        threads=6,
    )
    assert Application.objects.filter(organization=organization, program=program).count() == 1
    assert sum(isinstance(r, Application) for r in results) == 1
    assert all(isinstance(r, Application | ConflictError) for r in results)
    assert connection.vendor == "postgresql"


# --- Withdraw, return, resubmit -----------------------------------------------------------------


def test_application_withdraw_then_repeat_is_noop(applicant, submitted):
    app = services.application_withdraw(
        actor=applicant, application_id=submitted.pk, reason="Funded elsewhere"
    )
    assert app.status == "withdrawn" and app.withdraw_reason == "Funded elsewhere"
    again = services.application_withdraw(actor=applicant, application_id=submitted.pk)
    assert again.withdrawn_at == app.withdrawn_at
    assert AuditEvent.objects.filter(action=AuditAction.APPLICATION_WITHDRAWN).count() == 1


def test_application_withdrawn_cannot_be_submitted(applicant, complete_draft):
    services.application_withdraw(actor=applicant, application_id=complete_draft.pk)
    with pytest.raises(ConflictError):
        services.application_submit(actor=applicant, application_id=complete_draft.pk)


def test_application_return_requires_officer_and_message(applicant, reviewer, submitted):
    with pytest.raises(NotAllowedError):
        services.application_return(actor=applicant, application_id=submitted.pk, message="x")
    with pytest.raises(NotAllowedError):  # the conflict-of-interest gate comes first
        services.application_return(actor=reviewer, application_id=submitted.pk, message="x")
    declare_no_conflict(reviewer, submitted)
    with pytest.raises(DomainError) as exc:
        services.application_return(actor=reviewer, application_id=submitted.pk, message="   ")
    assert exc.value.code == "required"


def test_draft_cannot_be_returned(reviewer, draft):
    with pytest.raises(NotAllowedError):
        services.application_return(actor=reviewer, application_id=draft.pk, message="x")


def test_return_edit_and_resubmit_creates_version_two_with_diff(
    applicant, reviewer, submitted, mailoutbox, django_capture_on_commit_callbacks
):
    from applicants.rules import diff

    declare_no_conflict(reviewer, submitted)
    with django_capture_on_commit_callbacks(execute=True):
        services.application_return(
            actor=reviewer, application_id=submitted.pk, message="Explain GPU-hours."
        )
    assert "Explain GPU-hours." in mailoutbox[-1].body
    services.application_update(
        actor=applicant,
        application_id=submitted.pk,
        values={"gpu_hours": 50_000, "requested_amount_cents": 200_000_00},
    )
    app = services.application_submit(actor=applicant, application_id=submitted.pk)
    assert app.version == 2 and app.status == "in_review"
    v1, v2 = ApplicationVersion.objects.filter(application=app).order_by("number")
    changes = {c.field: c for c in diff(v1.snapshot, v2.snapshot)}
    assert set(changes) == {"gpu_hours", "requested_amount"}
    assert changes["gpu_hours"].before == "46080" and changes["gpu_hours"].after == "50000"
    assert changes["requested_amount"].after == "CNY 200,000.00"
    assert v1.snapshot["gpu_hours"] == 46_080  # the first version is untouched


def test_membership_is_what_grants_access(applicant, draft):
    colleague = UserFactory()
    assert not Membership.objects.filter(user=colleague).exists()
    with pytest.raises(NotAllowedError):
        services.application_update(actor=colleague, application_id=draft.pk, values={"title": "x"})
    Membership.objects.create(organization=draft.organization, user=colleague)
    services.application_update(actor=colleague, application_id=draft.pk, values={"title": "x"})


def test_make_uscc_factory_codes_are_valid():
    from applicants.uscc import validate

    for n in range(50):
        assert validate(make_uscc(n)) == make_uscc(n)
    assert OrganizationFactory is not None
