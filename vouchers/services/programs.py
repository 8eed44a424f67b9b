"""Programs as data: admins create and change them; vouchers already issued keep their terms."""

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_record, changes
from core.exceptions import DomainError, NotAllowedError
from core.validation import full_clean_or_raise
from vouchers.models import Program, RubricCriterion

PROGRAM_FIELDS = (
    "code",
    "slug",
    "name",
    "name_zh",
    "summary",
    "summary_zh",
    "region",
    "currency",
    "budget_cents",
    "award_floor_cents",
    "award_ceiling_cents",
    "rate_standard_bps",
    "rate_domestic_bps",
    "allowed_regions",
    "max_company_age_years",
    "max_headcount",
    "max_annual_revenue_cents",
    "requires_startup",
    "opens_at",
    "closes_at",
    "voucher_validity_days",
    "over_cap_policy",
    "is_published",
    "reviews_required",
    "authority_name",
    "authority_name_zh",
    "authority_address",
    "signatory_name",
    "signatory_title",
    "signatory_title_zh",
    "terms",
    "terms_zh",
)


def _ensure_admin(actor: User) -> None:
    if actor.role != User.Role.ADMIN:
        raise NotAllowedError(_("Only administrators create and change programs."))


def _state(program: Program) -> dict[str, Any]:
    return {f: getattr(program, f) for f in PROGRAM_FIELDS}


@transaction.atomic
def program_create(*, actor: User, providers: list[Any] | None = None, **values: Any) -> Program:
    _ensure_admin(actor)
    unknown = set(values) - set(PROGRAM_FIELDS)
    if unknown:
        raise DomainError(_("Unknown program fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    program = Program(**values)
    full_clean_or_raise(program)
    program.save()
    if providers is not None:
        program.approved_providers.set(providers)
    audit_record(
        actor=actor,
        action=AuditAction.PROGRAM_CREATED,
        target=program,
        data={k: str(v) for k, v in _state(program).items()},
    )
    return program


@transaction.atomic
def program_update(
    *, actor: User, program_id: int, providers: list[Any] | None = None, **values: Any
) -> Program:
    """Change a program's parameters. Vouchers already issued keep the copy of the terms they
    were issued under; the committed amount changes only through decisions."""
    _ensure_admin(actor)
    unknown = set(values) - set(PROGRAM_FIELDS)
    if unknown:
        raise DomainError(
            _("These fields cannot be changed: %(f)s") % {"f": ", ".join(sorted(unknown))},
            code="read_only_field",
        )
    # Lock the row: a decision committing money must not interleave with a budget change.
    program = Program.objects.select_for_update().get(pk=program_id)
    before = _state(program)
    for field, value in values.items():
        setattr(program, field, value)
    full_clean_or_raise(program)
    diff = changes(
        {k: str(v) for k, v in before.items()}, {k: str(v) for k, v in _state(program).items()}
    )
    if diff:
        program.save(update_fields=[*values.keys(), "updated_at"])
    if providers is not None:
        old = sorted(program.approved_providers.values_list("pk", flat=True))
        program.approved_providers.set(providers)
        new = sorted(p.pk for p in providers)
        if old != new:
            diff["approved_providers"] = {"before": old, "after": new}
    if diff:
        audit_record(actor=actor, action=AuditAction.PROGRAM_UPDATED, target=program, data=diff)
    return program


@transaction.atomic
def criterion_save(*, actor: User, program_id: int, code: str, **values: Any) -> RubricCriterion:
    """Add a rubric criterion, or change the one with this code."""
    _ensure_admin(actor)
    program = Program.objects.get(pk=program_id)
    criterion = RubricCriterion.objects.filter(
        program=program, code=code
    ).first() or RubricCriterion(program=program, code=code)
    for field, value in values.items():
        setattr(criterion, field, value)
    full_clean_or_raise(criterion)
    criterion.save()
    audit_record(
        actor=actor,
        action=AuditAction.PROGRAM_UPDATED,
        target=program,
        data={"criterion": code, **{k: str(v) for k, v in values.items()}},
    )
    return criterion
