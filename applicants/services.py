"""Every write to organizations and applications. Each function owns its transaction."""

import secrets
import uuid
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.models import User, hash_token, normalize_email
from applicants import uscc
from applicants.models import (
    Application,
    ApplicationVersion,
    Document,
    Invitation,
    Membership,
    Organization,
)
from applicants.policies import AppAction, application_allows, can_create_organization
from applicants.rules import missing_items, snapshot, snapshot_sha256
from applicants.transitions import ensure_transition, lock_application
from applicants.uploads import check_upload
from audit.models import AuditAction
from audit.services import audit_record, changes
from core.exceptions import ConflictError, DomainError, NotAllowedError
from core.money import format_money
from core.validation import full_clean_or_raise
from notifications.services import notification_enqueue
from vouchers.models import Program
from vouchers.services.screening import application_screen

ORG_EDITABLE_FIELDS = (
    "legal_name",
    "region",
    "address",
    "website",
    "incorporated_on",
    "headcount",
    "annual_revenue_cents",
    "revenue_currency",
    "parent",
)
APPLICATION_EDITABLE_FIELDS = (
    "title",
    "summary",
    "description",
    "gpu_hours",
    "gpu_model",
    "chip_origin",
    "intended_provider",
    "compute_plan",
    "requested_amount_cents",
    "declares_truthful",
    "declares_no_double_funding",
    "declares_no_provider_affiliation",
    "declared_by_name",
)
LONG_TEXT_FIELDS = {"description", "compute_plan", "summary"}


# --- Organizations -----------------------------------------------------------------------------


def _normalise_registration(scheme: str, number: str) -> str:
    if scheme == Organization.Scheme.CN_USCC:
        try:
            return uscc.validate(number)
        except uscc.UsccError as exc:
            raise DomainError(
                exc.message, code=exc.code, fields={"registration_number": [exc.message]}
            ) from exc
    cleaned = " ".join(number.split()).upper()
    if not 3 <= len(cleaned) <= 40:
        message = _(
            "Enter the registration number exactly as it appears on the registration document "
            "(3–40 characters)."
        )
        raise DomainError(
            message, code="invalid_registration_number", fields={"registration_number": [message]}
        )
    return cleaned


def _registration_taken(number: str) -> ConflictError:
    message = _(
        "An organization with registration number %(number)s is already registered. "
        "If you work there, ask a colleague who manages it to invite you "
        "(Organization → Invite a colleague). If you think "
        "someone registered your company by mistake, contact the program office."
    ) % {"number": number}
    return ConflictError(
        message, code="registration_number_taken", fields={"registration_number": [message]}
    )


def _check_org_values(values: dict[str, Any]) -> None:
    if (
        "incorporated_on" in values
        and values["incorporated_on"]
        and values["incorporated_on"] > timezone.localdate()
    ):
        message = _("The date of incorporation cannot be in the future.")
        raise DomainError(message, code="invalid_date", fields={"incorporated_on": [message]})
    if (
        "headcount" in values
        and values["headcount"] is not None
        and values["headcount"] > 10_000_000
    ):
        message = _("Enter the number of employees (at most 10,000,000).")
        raise DomainError(message, code="invalid_headcount", fields={"headcount": [message]})


@transaction.atomic
def organization_create(
    *,
    actor: User,
    legal_name: str,
    registration_scheme: str,
    registration_number: str,
    region: str,
    incorporated_on: date,
    headcount: int,
    annual_revenue_cents: int = 0,
    revenue_currency: str = "CNY",
    address: str = "",
    website: str = "",
    parent: Organization | None = None,
) -> Organization:
    """Register an organization and make `actor` its owner. One organization per number."""
    if not can_create_organization(actor):
        raise NotAllowedError(_("Only applicant accounts can register an organization."))
    number = _normalise_registration(registration_scheme, registration_number)
    values = {"incorporated_on": incorporated_on, "headcount": headcount}
    _check_org_values(values)
    if Organization.objects.filter(registration_number=number).exists():
        raise _registration_taken(number)
    organization = Organization(
        legal_name=legal_name.strip(),
        registration_scheme=registration_scheme,
        registration_number=number,
        region=region,
        incorporated_on=incorporated_on,
        headcount=headcount,
        annual_revenue_cents=annual_revenue_cents,
        revenue_currency=revenue_currency.upper(),
        address=address.strip(),
        website=website.strip(),
        parent=parent,
        created_by=actor,
    )
    full_clean_or_raise(organization, exclude=["registration_number"])
    try:
        with transaction.atomic():  # a concurrent registration of the same number loses here
            organization.save()
    except IntegrityError as exc:
        raise _registration_taken(number) from exc
    Membership.objects.create(organization=organization, user=actor, role=Membership.Role.OWNER)
    audit_record(
        actor=actor,
        action=AuditAction.ORGANIZATION_CREATED,
        target=organization,
        data={
            "registration_number": number,
            "legal_name": organization.legal_name,
            "region": region,
        },
    )
    return organization


def _org_state(org: Organization) -> dict[str, Any]:
    return {
        f: (getattr(org, f"{f}_id") if f == "parent" else getattr(org, f))
        for f in ORG_EDITABLE_FIELDS
    }


@transaction.atomic
def organization_update(*, actor: User, organization_id: int, **values: Any) -> Organization:
    """Change an organization's details. The registration number is its identity and is fixed."""
    unknown = set(values) - set(ORG_EDITABLE_FIELDS)
    if unknown:
        raise DomainError(
            _("These fields cannot be changed: %(f)s") % {"f": ", ".join(sorted(unknown))}
        )
    organization = Organization.objects.select_for_update().get(
        pk=organization_id
    )  # serialise edits
    _check_org_values(values)
    before = _org_state(organization)
    for field, value in values.items():
        setattr(organization, field, value.strip() if isinstance(value, str) else value)
    full_clean_or_raise(organization)
    after = _org_state(organization)
    diff = changes(before, after)
    if diff:
        organization.save(update_fields=[*values.keys(), "updated_at"])
        audit_record(
            actor=actor, action=AuditAction.ORGANIZATION_UPDATED, target=organization, data=diff
        )
    return organization


@transaction.atomic
def invitation_create(*, actor: User, organization_id: int, email: str) -> tuple[Invitation, str]:
    """Invite a colleague by email. Returns the invitation and the token sent in the link."""
    organization = Organization.objects.get(pk=organization_id)
    email = normalize_email(email)
    if organization.memberships.filter(user__email__iexact=email).exists():
        message = _("%(email)s is already a member of %(org)s.") % {
            "email": email,
            "org": organization,
        }
        raise ConflictError(message, code="already_member", fields={"email": [message]})
    raw = secrets.token_urlsafe(24)
    invitation = Invitation(
        organization=organization,
        email=email,
        token_hash=hash_token(raw),
        invited_by=actor,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_VALID_DAYS),
    )
    full_clean_or_raise(invitation)
    invitation.save()
    audit_record(
        actor=actor, action=AuditAction.MEMBER_INVITED, target=organization, data={"email": email}
    )
    invitee = User.objects.filter(email__iexact=email).first()
    notification_enqueue(
        kind="invitation",
        recipient=invitee,
        recipient_email=email,
        language=invitee.preferred_language if invitee else actor.preferred_language,
        template="invitation",
        context={
            "inviter": actor.full_name,
            "organization": organization.legal_name,
            "link": settings.SITE_URL + reverse("applicants:invitation_accept", args=[raw]),
            "days": settings.INVITATION_VALID_DAYS,
        },
    )
    return invitation, raw


@transaction.atomic
def invitation_accept(*, actor: User, token: str) -> Membership:
    """Join the organization of an invitation sent to the actor's email. Repeats are no-ops."""
    invitation = Invitation.objects.select_for_update().filter(token_hash=hash_token(token)).first()
    if invitation is None:
        raise DomainError(
            _("This invitation link is not valid. Ask for a new invitation."),
            code="invitation_invalid",
        )
    if invitation.email != actor.email:
        raise NotAllowedError(
            _("This invitation was sent to %(email)s. Log in with that address to accept it.")
            % {"email": invitation.email},
            code="invitation_other_email",
        )
    existing = Membership.objects.filter(organization=invitation.organization, user=actor).first()
    if existing is not None:
        return existing
    if invitation.accepted_at is not None:
        raise DomainError(_("This invitation has already been used."), code="invitation_used")
    if invitation.expires_at < timezone.now():
        raise DomainError(
            _("This invitation has expired. Ask for a new one."), code="invitation_expired"
        )
    if actor.role != User.Role.APPLICANT:
        raise NotAllowedError(_("Officer accounts cannot join applicant organizations."))
    membership = Membership.objects.create(
        organization=invitation.organization, user=actor, role=invitation.role
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = actor
    invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.MEMBER_JOINED,
        target=invitation.organization,
        data={"email": actor.email, "role": membership.role},
    )
    return membership


# --- Applications ------------------------------------------------------------------------------


def _program_window_error(program: Program) -> DomainError | None:
    now = timezone.now()
    if not program.is_published:
        return DomainError(_("This program is not open for applications."), code="program_not_open")
    if now < program.opens_at:
        return DomainError(
            _("This program opens for applications on %(date)s.")
            % {"date": date_format(timezone.localtime(program.opens_at), "DATETIME_FORMAT")},
            code="program_not_open",
        )
    if now >= program.closes_at:
        return DomainError(
            _("This program closed for applications on %(date)s.")
            % {"date": date_format(timezone.localtime(program.closes_at), "DATETIME_FORMAT")},
            code="program_closed",
        )
    return None


def _existing_open(organization_id: int, program_id: int) -> Application | None:
    return Application.objects.filter(
        organization_id=organization_id, program_id=program_id, status__in=Application.OPEN
    ).first()


def _already_applying(existing: Application) -> ConflictError:
    return ConflictError(
        _(
            "Your organization already has an application to this program (%(ref)s). "
            "Continue that one instead."
        )
        % {"ref": existing.reference},
        code="application_exists",
    )


@transaction.atomic
def application_create(*, actor: User, organization_id: int, program_id: int) -> Application:
    """Start a draft for an open program. One open application per organization and program."""
    organization = Organization.objects.get(pk=organization_id)
    program = Program.objects.get(pk=program_id)
    if not organization.memberships.filter(user=actor).exists():
        raise NotAllowedError(_("You are not a member of this organization."))
    window = _program_window_error(program)
    if window:
        raise window
    existing = _existing_open(organization.pk, program.pk)
    if existing is not None:
        raise _already_applying(existing)
    application = Application(
        organization=organization,
        program=program,
        reference=f"tmp-{uuid.uuid4().hex[:30]}",
        currency=program.currency,
        created_by=actor,
    )
    try:
        with transaction.atomic():  # the partial unique index settles a race between two tabs
            application.save()
    except IntegrityError as exc:
        existing = _existing_open(organization.pk, program.pk)
        if existing is None:
            raise
        raise _already_applying(existing) from exc
    application.reference = f"{program.code}-{application.pk:06d}"
    application.save(update_fields=["reference"])
    audit_record(
        actor=actor,
        action=AuditAction.APPLICATION_CREATED,
        target=application,
        data={"program": program.code, "organization": organization.registration_number},
    )
    return application


def _lock_editable(actor: User, application_id: int) -> Application:
    # Lock the row: a save racing a submit must not change a locked application.
    application = lock_application(application_id)
    if not application_allows(actor, application, AppAction.EDIT):
        raise NotAllowedError(_("You cannot change this application."))
    if not application.is_editable:
        raise ConflictError(
            _(
                "This application was submitted and is locked (status: %(status)s). "
                "It can only be changed if the program office returns it to you."
            )
            % {"status": application.get_status_display()},
            code="application_locked",
        )
    return application


def _check_amount(program: Program, cents: int) -> None:
    if cents < program.award_floor_cents or cents > program.award_ceiling_cents:
        message = _(
            "This program awards between %(floor)s and %(ceiling)s; enter an amount in that range."
        ) % {
            "floor": format_money(program.award_floor_cents, program.currency),
            "ceiling": format_money(program.award_ceiling_cents, program.currency),
        }
        raise DomainError(
            message, code="amount_out_of_range", fields={"requested_amount": [message]}
        )


def _audit_value(field: str, value: Any) -> Any:
    if field in LONG_TEXT_FIELDS and isinstance(value, str):
        return {"length": len(value)}
    if hasattr(value, "pk"):
        return value.pk
    return value


@transaction.atomic
def application_update(*, actor: User, application_id: int, values: dict[str, Any]) -> Application:
    """Save answers to a draft (or a returned application). Only the given fields change."""
    unknown = set(values) - set(APPLICATION_EDITABLE_FIELDS)
    if unknown:
        raise DomainError(
            _("These fields cannot be changed: %(f)s") % {"f": ", ".join(sorted(unknown))},
            code="read_only_field",
            fields={f: [_("This field cannot be changed.")] for f in unknown},
        )
    application = _lock_editable(actor, application_id)
    program = application.program
    if values.get("requested_amount_cents") is not None:
        _check_amount(program, values["requested_amount_cents"])
    provider = values.get("intended_provider")
    if provider is not None and (
        not provider.is_active or not program.approved_providers.filter(pk=provider.pk).exists()
    ):
        message = _("%(provider)s is not an approved provider for this program.") % {
            "provider": provider
        }
        raise DomainError(
            message, code="provider_not_approved", fields={"intended_provider": [message]}
        )
    before = {f: _audit_value(f, getattr(application, f)) for f in values}
    for field, value in values.items():
        setattr(
            application,
            field,
            value.strip() if isinstance(value, str) and field != "description" else value,
        )
    declared = (
        application.declares_truthful
        and application.declares_no_double_funding
        and application.declares_no_provider_affiliation
        and application.declared_by_name.strip()
    )
    application.declared_at = (application.declared_at or timezone.now()) if declared else None
    full_clean_or_raise(application)
    after = {f: _audit_value(f, getattr(application, f)) for f in values}
    diff = changes(before, after)
    if diff:
        application.save(update_fields=[*values.keys(), "declared_at", "updated_at"])
        audit_record(
            actor=actor, action=AuditAction.APPLICATION_UPDATED, target=application, data=diff
        )
    return application


@transaction.atomic
def document_add(*, actor: User, application_id: int, kind: str, upload: UploadedFile) -> Document:
    """Attach a checked PDF/PNG/JPEG to an editable application."""
    application = _lock_editable(actor, application_id)
    if kind not in Document.Kind.values:
        raise DomainError(
            _("Choose what kind of document this is."),
            code="invalid_kind",
            fields={"kind": [_("Choose what kind of document this is.")]},
        )
    if (
        application.documents.filter(removed_at__isnull=True).count()
        >= settings.DOCUMENTS_PER_APPLICATION
    ):
        raise DomainError(
            _("An application can have at most %(n)d documents. Remove one first.")
            % {"n": settings.DOCUMENTS_PER_APPLICATION},
            code="too_many_documents",
        )
    checked = check_upload(upload)
    document = Document(
        application=application,
        kind=kind,
        original_name=checked.original_name,
        content_type=checked.content_type,
        size_bytes=checked.size_bytes,
        sha256=checked.sha256,
        uploaded_by=actor,
    )
    document.file.save(checked.original_name, upload, save=False)
    document.save()
    audit_record(
        actor=actor,
        action=AuditAction.DOCUMENT_ADDED,
        target=application,
        data={
            "document": document.pk,
            "kind": kind,
            "name": document.original_name,
            "sha256": document.sha256,
        },
    )
    return document


@transaction.atomic
def document_remove(*, actor: User, application_id: int, document_id: int) -> Document:
    """Remove a document from an editable application. The file is kept: an earlier submitted
    version may refer to it."""
    application = _lock_editable(actor, application_id)
    document = application.documents.filter(pk=document_id, removed_at__isnull=True).first()
    if document is None:
        raise DomainError(_("That document is not attached to this application."), code="not_found")
    document.removed_at = timezone.now()
    document.save(update_fields=["removed_at", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.DOCUMENT_REMOVED,
        target=application,
        data={"document": document.pk, "name": document.original_name},
    )
    return document


def _notify_members(
    application: Application, *, kind: str, template: str, context: dict[str, Any], dedupe: str
) -> None:
    members = User.objects.filter(
        memberships__organization=application.organization, is_active=True
    )
    for member in members:
        notification_enqueue(
            kind=kind,
            recipient=member,
            recipient_email=member.email,
            language=member.preferred_language,
            template=template,
            dedupe_key=f"{dedupe}:{member.pk}",
            context={
                "user_name": member.full_name,
                "reference": application.reference,
                "title": application.title,
                "program": application.program.name,
                "link": settings.SITE_URL
                + reverse("applicants:application_detail", args=[application.pk]),
                **context,
            },
        )


@transaction.atomic(durable=True)
def application_submit(*, actor: User, application_id: int) -> Application:
    """Submit (or resubmit) an application: freeze a new version, lock it, send the receipt.

    Submitting an application that is already submitted returns it unchanged, so a double click
    or a second tab results in exactly one submission.
    """
    # Lock the row: two tabs or a double click must produce one version, not two.
    application = lock_application(application_id)
    if not application_allows(actor, application, AppAction.SUBMIT):
        raise NotAllowedError(_("You cannot submit this application."))
    if application.status in Application.SUBMITTED_STATES:
        return application  # a repeat (double click, second tab, retried request)
    ensure_transition(
        application,
        Application.Status.SUBMITTED,
        _("This application is %(status)s and cannot be submitted."),
    )
    if not actor.has_verified_email:
        raise DomainError(
            _("Confirm your email address before you submit: open the link we sent to %(email)s.")
            % {"email": actor.email},
            code="email_unverified",
        )
    window = _program_window_error(application.program)
    if window:
        raise window
    documents = list(application.documents.filter(removed_at__isnull=True).order_by("created_at"))
    missing = missing_items(application, documents)
    if missing:
        fields: dict[str, list[str]] = {}
        for item in missing:
            fields.setdefault(item.field, []).append(item.message)
        raise DomainError(
            _("The application is not complete yet: %(first)s") % {"first": missing[0].message},
            code="incomplete",
            fields=fields,
        )
    assert application.requested_amount_cents is not None  # noqa: S101  (checked by missing_items)
    _check_amount(application.program, application.requested_amount_cents)
    now = timezone.now()
    data = snapshot(application, documents)
    number = application.version + 1
    version = ApplicationVersion(
        application=application,
        number=number,
        receipt_number=f"{application.reference}-V{number}",
        snapshot=data,
        content_sha256=snapshot_sha256(data),
        submitted_at=now,
        submitted_by=actor,
    )
    full_clean_or_raise(version)
    version.save()
    previous = application.status
    application.status = Application.Status.SUBMITTED
    application.version = number
    application.submitted_at = now
    application.save(update_fields=["status", "version", "submitted_at", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.APPLICATION_SUBMITTED,
        target=application,
        data={
            "status": {"before": previous, "after": application.status},
            "version": number,
            "receipt": version.receipt_number,
            "content_sha256": version.content_sha256,
        },
    )
    application_screen(application=application, actor=actor)
    _notify_members(
        application,
        kind="application_submitted",
        template="application_submitted",
        dedupe=f"application_submitted:{application.pk}:{number}",
        context={
            "receipt_number": version.receipt_number,
            "submitted_at": now,
            "version": number,
            "content_sha256": version.content_sha256,
        },
    )
    return application


@transaction.atomic
def application_withdraw(*, actor: User, application_id: int, reason: str = "") -> Application:
    """Withdraw an application. Withdrawing twice is a no-op."""
    # Serialise against a concurrent submit or decision.
    application = lock_application(application_id)
    if not application_allows(actor, application, AppAction.WITHDRAW):
        raise NotAllowedError(_("You cannot withdraw this application."))
    if application.status == Application.Status.WITHDRAWN:
        return application
    ensure_transition(
        application,
        Application.Status.WITHDRAWN,
        _("This application is %(status)s and can no longer be withdrawn."),
    )
    previous = application.status
    application.status = Application.Status.WITHDRAWN
    application.withdrawn_at = timezone.now()
    application.withdraw_reason = reason.strip()[:1000]
    application.save(update_fields=["status", "withdrawn_at", "withdraw_reason", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.APPLICATION_WITHDRAWN,
        target=application,
        data={
            "status": {"before": previous, "after": application.status},
            "reason": application.withdraw_reason,
        },
    )
    return application


@transaction.atomic
def application_return(*, actor: User, application_id: int, message: str) -> Application:
    """Send a submitted application back to the applicant with a message saying what to change.
    Returning an application that is already returned is a no-op."""
    # Serialise against the applicant withdrawing or another officer deciding.
    application = lock_application(application_id)
    if not application_allows(actor, application, AppAction.RETURN):
        raise NotAllowedError(_("Only program officers can return an application."))
    if application.status == Application.Status.RETURNED:
        return application
    ensure_transition(
        application,
        Application.Status.RETURNED,
        _("This application is %(status)s and cannot be returned."),
    )
    message = message.strip()
    if not message:
        raise DomainError(
            _("Tell the applicant what to change."),
            code="required",
            fields={"message": [_("Tell the applicant what to change.")]},
        )
    previous = application.status
    application.status = Application.Status.RETURNED
    application.returned_at = timezone.now()
    application.return_message = message[:10_000]
    application.save(update_fields=["status", "returned_at", "return_message", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.APPLICATION_RETURNED,
        target=application,
        data={
            "status": {"before": previous, "after": application.status},
            "message": application.return_message,
        },
    )
    _notify_members(
        application,
        kind="application_returned",
        template="application_returned",
        dedupe=f"application_returned:{application.pk}:{application.version}",
        context={"message": application.return_message},
    )
    return application
