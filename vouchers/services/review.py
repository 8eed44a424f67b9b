"""Conflict-of-interest declarations, reviewer assignments and reviews."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from applicants.models import Application
from applicants.policies import AppAction, application_allows, forget_conflict_state
from applicants.transitions import lock_application
from audit.models import AuditAction
from audit.services import audit_record
from core.exceptions import ConflictError, DomainError, NotAllowedError
from core.money import format_money
from core.validation import full_clean_or_raise
from notifications.services import notification_enqueue
from vouchers.models import ConflictDeclaration, Recommendation, Review, ReviewAssignment

ASSIGNABLE = frozenset({Application.Status.SCREENING, Application.Status.IN_REVIEW})


@transaction.atomic
def conflict_declare(
    *, actor: User, application_id: int, has_conflict: bool, note: str = ""
) -> ConflictDeclaration:
    """Record whether the officer has a conflict of interest with the application.

    A declaration is final: repeating the same answer is a no-op, changing it is refused. A
    conflict removes the officer from any review assignment on the application.
    """
    application = lock_application(application_id)  # serialise with assignments and reviews
    if not application_allows(actor, application, AppAction.DECLARE_CONFLICT):
        raise NotAllowedError(_("Only reviewers and approvers declare conflicts of interest."))
    existing = ConflictDeclaration.objects.filter(application=application, officer=actor).first()
    if existing is not None:
        if existing.has_conflict == has_conflict:
            return existing
        raise ConflictError(
            _(
                "You already declared %(answer)s on %(date)s; a declaration cannot be changed. "
                "Ask an administrator if it was a mistake."
            )
            % {
                "answer": _("a conflict") if existing.has_conflict else _("no conflict"),
                "date": timezone.localtime(existing.created_at).strftime("%Y-%m-%d %H:%M"),
            },
            code="already_declared",
        )
    declaration = ConflictDeclaration(
        application=application, officer=actor, has_conflict=has_conflict, note=note.strip()[:1000]
    )
    full_clean_or_raise(declaration)
    declaration.save()
    forget_conflict_state(application)
    audit_record(
        actor=actor,
        action=AuditAction.CONFLICT_DECLARED,
        target=application,
        data={"has_conflict": has_conflict, "note": declaration.note},
    )
    if has_conflict:
        for assignment in ReviewAssignment.objects.filter(
            application=application, reviewer=actor, removed_at__isnull=True
        ):
            _remove(assignment, actor=actor, reason="conflict of interest declared")
    return declaration


def _remove(assignment: ReviewAssignment, *, actor: User, reason: str) -> None:
    assignment.removed_at = timezone.now()
    assignment.removal_reason = reason[:300]
    assignment.save(update_fields=["removed_at", "removal_reason", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.REVIEWER_REMOVED,
        target=assignment.application,
        data={"reviewer": assignment.reviewer.email, "reason": assignment.removal_reason},
    )


@transaction.atomic
def reviewer_assign(*, actor: User, application_id: int, reviewer_id: int) -> ReviewAssignment:
    """Ask a reviewer to review the application. Assigning someone already assigned is a no-op."""
    application = lock_application(application_id)  # serialise with conflict declarations
    if not application_allows(actor, application, AppAction.ASSIGN):
        raise NotAllowedError(_("Only approvers and administrators assign reviewers."))
    if application.status not in ASSIGNABLE:
        raise ConflictError(
            _("This application is %(status)s; reviewers can no longer be assigned.")
            % {"status": application.get_status_display()},
            code="invalid_status",
        )
    reviewer = User.objects.filter(pk=reviewer_id, role=User.Role.REVIEWER, is_active=True).first()
    if reviewer is None:
        message = _("Choose an active reviewer.")
        raise DomainError(message, code="invalid_reviewer", fields={"reviewer": [message]})
    if ConflictDeclaration.objects.filter(
        application=application, officer=reviewer, has_conflict=True
    ).exists():
        message = _("%(name)s declared a conflict of interest with this application.") % {
            "name": reviewer.full_name
        }
        raise DomainError(message, code="reviewer_conflicted", fields={"reviewer": [message]})
    existing = ReviewAssignment.objects.filter(
        application=application, reviewer=reviewer, removed_at__isnull=True
    ).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            assignment = ReviewAssignment.objects.create(
                application=application, reviewer=reviewer, assigned_by=actor
            )
    except IntegrityError as exc:  # only possible if the lock above were bypassed
        raise ConflictError(
            _("This reviewer is already assigned."), code="already_assigned"
        ) from exc
    audit_record(
        actor=actor,
        action=AuditAction.REVIEWER_ASSIGNED,
        target=application,
        data={"reviewer": reviewer.email},
    )
    notification_enqueue(
        kind="review_assigned",
        recipient=reviewer,
        recipient_email=reviewer.email,
        language=reviewer.preferred_language,
        template="review_assigned",
        dedupe_key=f"review_assigned:{assignment.pk}",
        context={
            "user_name": reviewer.full_name,
            "reference": application.reference,
            "program": application.program.name,
            "link": settings.SITE_URL
            + reverse("officer:application_detail", args=[application.pk]),
        },
    )
    return assignment


@transaction.atomic
def reviewer_unassign(*, actor: User, assignment_id: int, reason: str) -> ReviewAssignment:
    assignment = ReviewAssignment.objects.select_related("application", "reviewer").get(
        pk=assignment_id
    )
    application = lock_application(assignment.application_id)
    if not application_allows(actor, application, AppAction.ASSIGN):
        raise NotAllowedError(_("Only approvers and administrators remove reviewers."))
    assignment.refresh_from_db()
    if assignment.removed_at is None:
        _remove(assignment, actor=actor, reason=reason.strip() or "removed by an officer")
    return assignment


def weighted_score_bps(scores: dict[str, int], criteria: list[Any]) -> int:
    """Sum of score/max x weight, as a share of the total weight, in basis points (half up)."""
    numerator = sum(Decimal(scores[c.code]) * c.weight / c.max_score for c in criteria)
    denominator = sum(Decimal(c.weight) for c in criteria)
    return int((numerator / denominator * 10_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _validated_scores(raw: Any, criteria: list[Any]) -> dict[str, int]:
    if not criteria:
        raise DomainError(
            _("This program has no review rubric yet; an administrator must add its criteria."),
            code="no_rubric",
        )
    if not isinstance(raw, dict):
        raise DomainError(
            _("Send the scores as {criterion code: score}."),
            code="invalid_scores",
            fields={"scores": [_("Send the scores as {criterion code: score}.")]},
        )
    errors: dict[str, list[str]] = {}
    known = {c.code for c in criteria}
    for code in sorted(set(raw) - known):
        errors[f"scores.{code}"] = [_("There is no such criterion in this program's rubric.")]
    scores: dict[str, int] = {}
    for criterion in criteria:
        value = raw.get(criterion.code)
        if isinstance(value, bool) or not isinstance(value, int):
            errors[f"scores.{criterion.code}"] = [
                _("Score “%(name)s” with a whole number from 0 to %(max)d.")
                % {"name": criterion.name, "max": criterion.max_score}
            ]
        elif not 0 <= value <= criterion.max_score:
            errors[f"scores.{criterion.code}"] = [
                _("“%(name)s” is scored from 0 to %(max)d.")
                % {"name": criterion.name, "max": criterion.max_score}
            ]
        else:
            scores[criterion.code] = value
    if errors:
        raise DomainError(next(iter(errors.values()))[0], code="invalid_scores", fields=errors)
    return scores


@transaction.atomic
def review_submit(
    *,
    actor: User,
    application_id: int,
    scores: Any,
    recommendation: str,
    comments: str,
    recommended_amount_cents: int | None = None,
) -> Review:
    """Record an assigned reviewer's scored review of the current version. Reviews are final."""
    application = lock_application(application_id)  # serialise the count of completed reviews
    if not application_allows(actor, application, AppAction.REVIEW):
        raise NotAllowedError(_("Only reviewers who declared no conflict of interest can review."))
    if application.status != Application.Status.IN_REVIEW:
        raise ConflictError(
            _("This application is %(status)s, not in review.")
            % {"status": application.get_status_display()},
            code="invalid_status",
        )
    if not ReviewAssignment.objects.filter(
        application=application, reviewer=actor, removed_at__isnull=True
    ).exists():
        raise NotAllowedError(
            _("You are not assigned to review this application."), code="not_assigned"
        )
    if Review.objects.filter(
        application=application, version=application.version, reviewer=actor
    ).exists():
        raise ConflictError(_("You have already reviewed this version."), code="already_reviewed")
    program = application.program
    criteria = list(program.criteria.all())
    clean_scores = _validated_scores(scores, criteria)
    if recommendation not in Recommendation.values:
        message = _("Choose a recommendation.")
        raise DomainError(
            message, code="invalid_recommendation", fields={"recommendation": [message]}
        )
    requested = application.requested_amount_cents or 0
    if recommendation == Recommendation.FUND_REDUCED:
        if recommended_amount_cents is None or not (
            program.award_floor_cents <= recommended_amount_cents < requested
        ):
            message = _(
                "Recommend an amount from %(floor)s up to, but below, the %(requested)s requested."
            ) % {
                "floor": format_money(program.award_floor_cents, program.currency),
                "requested": format_money(requested, program.currency),
            }
            raise DomainError(
                message, code="invalid_recommended_amount", fields={"recommended_amount": [message]}
            )
    else:
        recommended_amount_cents = None
    comments = comments.strip()
    if not comments:
        message = _("Write your assessment: the approvers read it with the scores.")
        raise DomainError(message, code="required", fields={"comments": [message]})
    review = Review(
        application=application,
        version=application.version,
        reviewer=actor,
        scores=clean_scores,
        weighted_score_bps=weighted_score_bps(clean_scores, criteria),
        recommendation=recommendation,
        recommended_amount_cents=recommended_amount_cents,
        comments=comments,
    )
    full_clean_or_raise(review)
    review.save()
    application.reviews_completed = Review.objects.filter(
        application=application, version=application.version
    ).count()
    application.ready_for_decision = application.reviews_completed >= program.reviews_required
    application.save(update_fields=["reviews_completed", "ready_for_decision", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.REVIEW_SUBMITTED,
        target=application,
        data={
            "version": application.version,
            "weighted_score_bps": review.weighted_score_bps,
            "recommendation": recommendation,
            "reviews_completed": application.reviews_completed,
            "ready_for_decision": application.ready_for_decision,
        },
    )
    return review
