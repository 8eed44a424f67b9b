"""Eligibility screening on submit, and officers' overrides of failed rules."""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from applicants.models import Application
from applicants.policies import AppAction, application_allows
from applicants.transitions import lock_application
from audit.models import AuditAction
from audit.services import audit_record
from core.exceptions import ConflictError, DomainError, NotAllowedError
from core.validation import full_clean_or_raise
from vouchers.models import ScreeningResult
from vouchers.screening import evaluate

MIN_JUSTIFICATION = 20  # characters: a reason someone else can check, not "ok"


@transaction.atomic(savepoint=False)
def application_screen(*, application: Application, actor: User) -> list[ScreeningResult]:
    """Run every eligibility rule on the version just submitted; store one row per rule.

    Runs inside the submit transaction, on the locked application. If every rule passes the
    application goes to review; otherwise it waits in the screening-exceptions queue.
    """
    on = timezone.localdate(application.submitted_at or timezone.now())
    outcomes = evaluate(application, on)
    results = ScreeningResult.objects.bulk_create(
        ScreeningResult(
            application=application,
            version=application.version,
            rule=o.rule,
            passed=o.passed,
            parameter=o.parameter,
            observed=o.observed,
        )
        for o in outcomes
    )
    failed = [o.rule for o in outcomes if not o.passed]
    previous = application.status
    application.status = Application.Status.SCREENING if failed else Application.Status.IN_REVIEW
    application.reviews_completed = 0
    application.ready_for_decision = False
    application.save(
        update_fields=["status", "reviews_completed", "ready_for_decision", "updated_at"]
    )
    audit_record(
        actor=actor,
        action=AuditAction.APPLICATION_SCREENED,
        target=application,
        data={
            "version": application.version,
            "failed_rules": failed,
            "status": {"before": previous, "after": application.status},
        },
    )
    return results


@transaction.atomic
def screening_override(
    *, actor: User, application_id: int, result_id: int, justification: str
) -> ScreeningResult:
    """Accept a failed rule with a written justification. When no failed rule is left, the
    application moves on to review. Overriding an overridden rule again is a no-op."""
    application = lock_application(application_id)
    if not application_allows(actor, application, AppAction.SCREEN):
        raise NotAllowedError(_("Only program officers can override a screening result."))
    result = ScreeningResult.objects.filter(
        pk=result_id, application=application, version=application.version
    ).first()
    if result is None:
        raise DomainError(
            _("That screening result does not belong to the current version."), code="not_found"
        )
    if result.overridden_at is not None:
        return result
    if application.status != Application.Status.SCREENING:
        raise ConflictError(
            _("This application is %(status)s; screening results can no longer be overridden.")
            % {"status": application.get_status_display()},
            code="invalid_status",
        )
    if result.passed:
        raise DomainError(_("This rule passed; there is nothing to override."), code="rule_passed")
    justification = justification.strip()
    if len(justification) < MIN_JUSTIFICATION:
        message = _(
            "Explain why the rule can be set aside (at least %(n)d characters); the "
            "justification is kept in the audit trail."
        ) % {"n": MIN_JUSTIFICATION}
        raise DomainError(
            message, code="justification_required", fields={"justification": [message]}
        )
    result.overridden_by = actor
    result.overridden_at = timezone.now()
    result.override_justification = justification
    full_clean_or_raise(result)
    result.save(
        update_fields=["overridden_by", "overridden_at", "override_justification", "updated_at"]
    )
    blocking = application.screening_results.filter(
        version=application.version, passed=False, overridden_at__isnull=True
    ).exists()
    data: dict[str, Any] = {"rule": result.rule, "justification": justification}
    if not blocking:
        application.status = Application.Status.IN_REVIEW
        application.save(update_fields=["status", "updated_at"])
        data["status"] = {"before": Application.Status.SCREENING, "after": application.status}
    audit_record(
        actor=actor, action=AuditAction.SCREENING_OVERRIDDEN, target=application, data=data
    )
    return result
