"""The provider registry: providers, the staff who act for them, and recorded affiliations.

Administrators keep it (in the admin site, through these services). A provider's staff submit
claims for it in the portal and through the API; a staff member removed from a provider loses
that at once (their tokens are scoped to the provider and stop working).
"""

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from applicants.models import Organization
from audit.models import AuditAction
from audit.services import audit_record
from core.exceptions import ConflictError, DomainError, NotAllowedError
from disbursement.models import ChipOrigin, Provider, ProviderAffiliation, ProviderStaff

PROVIDER_FIELDS = (
    "legal_name",
    "short_name",
    "registration_number",
    "region",
    "chip_origins",
    "data_centres",
    "is_active",
)
_REGISTRATION = re.compile(r"^[0-9A-Z]{6,40}$")


def _ensure_admin(actor: User) -> None:
    if actor.role != User.Role.ADMIN:
        raise NotAllowedError(_("Only administrators keep the provider registry."))


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(PROVIDER_FIELDS)
    if unknown:
        raise DomainError(
            _("Unknown provider fields: %(names)s.") % {"names": ", ".join(sorted(unknown))},
            code="unknown_field",
        )
    out = dict(values)
    for name in ("legal_name", "short_name", "region", "data_centres"):
        if name in out:
            out[name] = (out[name] or "").strip()
    for name in ("legal_name", "short_name", "region"):
        if name in out and not out[name]:
            raise DomainError(
                _("This field is required."), code="required", fields={name: [_("Required.")]}
            )
    if "registration_number" in out:
        number = re.sub(r"[\s-]", "", str(out["registration_number"])).upper()
        if not _REGISTRATION.match(number):
            message = _("A registration number has 6 to 40 letters and digits.")
            raise DomainError(
                message, code="registration_number", fields={"registration_number": [message]}
            )
        out["registration_number"] = number
    if "chip_origins" in out:
        chips = list(dict.fromkeys(out["chip_origins"] or []))
        bad = [c for c in chips if c not in ChipOrigin.values]
        if bad:
            message = _("Chip origins are %(allowed)s.") % {"allowed": ", ".join(ChipOrigin.values)}
            raise DomainError(message, code="chip_origins", fields={"chip_origins": [message]})
        out["chip_origins"] = chips
    return out


def _taken(number: str) -> DomainError:
    message = _("A provider with registration number %(number)s is already registered.") % {
        "number": number
    }
    return ConflictError(
        message, code="registration_number_taken", fields={"registration_number": [message]}
    )


@transaction.atomic
def provider_create(*, actor: User, **values: Any) -> Provider:
    _ensure_admin(actor)
    data = _clean(values)
    provider = Provider(**data)
    try:
        with transaction.atomic():
            provider.save()
    except IntegrityError as exc:  # the unique number settles a race between two admins
        raise _taken(data.get("registration_number", "")) from exc
    audit_record(
        actor=actor,
        action=AuditAction.PROVIDER_CREATED,
        target=provider,
        data={"after": {f: getattr(provider, f) for f in PROVIDER_FIELDS}},
    )
    return provider


@transaction.atomic
def provider_update(*, actor: User, provider_id: int, **values: Any) -> Provider:
    _ensure_admin(actor)
    data = _clean(values)
    provider = Provider.objects.select_for_update().get(pk=provider_id)
    before = {f: getattr(provider, f) for f in data}
    for name, value in data.items():
        setattr(provider, name, value)
    changed = {f: data[f] for f in data if before[f] != data[f]}
    if not changed:
        return provider
    try:
        with transaction.atomic():
            provider.save(update_fields=[*changed, "updated_at"])
    except IntegrityError as exc:
        raise _taken(data.get("registration_number", "")) from exc
    audit_record(
        actor=actor,
        action=AuditAction.PROVIDER_UPDATED,
        target=provider,
        data={"before": {f: before[f] for f in changed}, "after": changed},
    )
    return provider


@transaction.atomic
def provider_staff_add(*, actor: User, provider_id: int, user_id: int) -> ProviderStaff:
    """Let a provider-role user act for one provider. A user acts for at most one provider."""
    _ensure_admin(actor)
    provider = Provider.objects.get(pk=provider_id)
    user = User.objects.select_for_update().get(pk=user_id)
    if user.role != User.Role.PROVIDER:
        raise DomainError(
            _("Only accounts with the compute provider role can act for a provider."),
            code="not_a_provider_account",
        )
    current = ProviderStaff.objects.filter(user=user).select_related("provider").first()
    if current is not None:
        if current.provider_id == provider.pk:
            return current
        raise ConflictError(
            _("%(user)s already acts for %(provider)s; remove them there first.")
            % {"user": user.email, "provider": current.provider.short_name},
            code="already_staff",
        )
    staff = ProviderStaff.objects.create(provider=provider, user=user)
    audit_record(
        actor=actor,
        action=AuditAction.PROVIDER_STAFF_ADDED,
        target=provider,
        data={"user": user.email},
    )
    return staff


@transaction.atomic
def provider_staff_remove(*, actor: User, provider_id: int, user_id: int) -> None:
    """Their tokens stop working with the link (they are scoped to the provider)."""
    _ensure_admin(actor)
    provider = Provider.objects.get(pk=provider_id)
    staff = (
        ProviderStaff.objects.select_for_update()
        .select_related("user")
        .filter(provider=provider, user_id=user_id)
        .first()
    )
    if staff is None:
        return
    email = staff.user.email
    staff.delete()
    audit_record(
        actor=actor,
        action=AuditAction.PROVIDER_STAFF_REMOVED,
        target=provider,
        data={"user": email},
    )


@transaction.atomic
def provider_affiliation_record(
    *, actor: User, provider_id: int, organization_id: int, kind: str, note: str = ""
) -> ProviderAffiliation:
    """Record a tie between a provider and an applicant organization: from then on, claims by
    that provider on the organization's vouchers are refused (`provider_affiliated`)."""
    _ensure_admin(actor)
    if kind not in ProviderAffiliation.Kind.values:
        raise DomainError(_("Choose the kind of tie."), code="invalid_kind")
    provider = Provider.objects.get(pk=provider_id)
    organization = Organization.objects.get(pk=organization_id)
    existing = ProviderAffiliation.objects.filter(
        provider=provider, organization=organization
    ).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            affiliation = ProviderAffiliation.objects.create(
                provider=provider,
                organization=organization,
                kind=kind,
                note=note.strip()[:500],
                recorded_by=actor,
            )
    except IntegrityError:  # recorded by someone else a moment ago
        return ProviderAffiliation.objects.get(provider=provider, organization=organization)
    audit_record(
        actor=actor,
        action=AuditAction.PROVIDER_AFFILIATION_RECORDED,
        target=provider,
        data={
            "organization": organization.registration_number,
            "organization_name": organization.legal_name,
            "kind": kind,
            "note": affiliation.note,
        },
    )
    return affiliation


@transaction.atomic
def provider_affiliation_remove(*, actor: User, affiliation_id: int, reason: str) -> None:
    _ensure_admin(actor)
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise DomainError(
            _("Say why the tie no longer holds (at least 10 characters)."), code="reason_required"
        )
    affiliation = (
        ProviderAffiliation.objects.select_for_update()
        .select_related("provider", "organization")
        .filter(pk=affiliation_id)
        .first()
    )
    if affiliation is None:
        return
    audit_record(
        actor=actor,
        action=AuditAction.PROVIDER_AFFILIATION_REMOVED,
        target=affiliation.provider,
        data={
            "organization": affiliation.organization.registration_number,
            "kind": affiliation.kind,
            "reason": reason,
        },
    )
    affiliation.delete()
