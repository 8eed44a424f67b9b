"""Decisions with four eyes, and the voucher an approval issues."""

from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from applicants.models import Application
from applicants.policies import AppAction, application_allows
from applicants.transitions import lock_application
from audit.models import AuditAction
from audit.services import audit_record
from core.exceptions import ConflictError, DomainError, NotAllowedError
from core.money import format_money
from core.validation import full_clean_or_raise
from notifications.services import notification_enqueue
from vouchers import codes
from vouchers.models import Decision, Program, Review, ReviewAssignment, Voucher
from vouchers.services.letters import award_letter_request

DECIDABLE = frozenset({Application.Status.SCREENING, Application.Status.IN_REVIEW})
MIN_REASONS = 20


def _ensure_can_decide(actor: User, application: Application) -> None:
    if not application_allows(actor, application, AppAction.DECIDE):
        raise NotAllowedError(_("Only approvers who declared no conflict of interest can decide."))
    if Decision.objects.filter(application=application).exists():
        raise ConflictError(_("This application has already been decided."), code="already_decided")
    # Four eyes: whoever reviewed (or is assigned to review) it cannot also decide it.
    if (
        Review.objects.filter(application=application, reviewer=actor).exists()
        or ReviewAssignment.objects.filter(
            application=application, reviewer=actor, removed_at__isnull=True
        ).exists()
    ):
        raise NotAllowedError(
            _(
                "You reviewed or are assigned to review this application, so another approver "
                "must decide it (four eyes)."
            ),
            code="four_eyes",
        )


def _amount_error(message: str, code: str) -> DomainError:
    return DomainError(message, code=code, fields={"amount": [message]})


@transaction.atomic(durable=True)
def application_approve(
    *, actor: User, application_id: int, amount_cents: int, reasons: str = ""
) -> Decision:
    """Approve an amount, commit it to the program's budget, issue the voucher and queue the
    award letter. The budget can never be over-committed, whatever the concurrency."""
    application = lock_application(application_id)
    _ensure_can_decide(actor, application)
    if application.status != Application.Status.IN_REVIEW:
        raise ConflictError(
            _("This application is %(status)s; only applications in review can be approved.")
            % {"status": application.get_status_display()},
            code="invalid_status",
        )
    program = application.program
    if not application.ready_for_decision:
        raise DomainError(
            _(
                "This application needs %(need)d completed review(s) before a decision; it has "
                "%(have)d."
            )
            % {"need": program.reviews_required, "have": application.reviews_completed},
            code="reviews_incomplete",
        )
    money = partial(format_money, currency=program.currency)
    requested = application.requested_amount_cents or 0
    if amount_cents < program.award_floor_cents or amount_cents > program.award_ceiling_cents:
        raise _amount_error(
            _("Approve an amount between %(floor)s and %(ceiling)s.")
            % {
                "floor": money(program.award_floor_cents),
                "ceiling": money(program.award_ceiling_cents),
            },
            "amount_out_of_range",
        )
    if amount_cents > requested:
        raise _amount_error(
            _("The amount cannot exceed the %(requested)s requested.")
            % {"requested": money(requested)},
            "amount_above_request",
        )
    # Lock the program row: two approvals must not both take the last of the budget.
    program = Program.objects.select_for_update().get(pk=program.pk)
    if amount_cents > program.remaining_cents:
        raise _amount_error(
            _("Only %(left)s of the program's budget is left.")
            % {"left": money(program.remaining_cents)},
            "budget_exhausted",
        )
    before = program.committed_cents
    try:
        with transaction.atomic():  # the CHECK committed <= budget is the last line of defence
            Program.objects.filter(pk=program.pk).update(
                committed_cents=F("committed_cents") + amount_cents, updated_at=timezone.now()
            )
    except IntegrityError as exc:
        raise _amount_error(_("The program's budget is exhausted."), "budget_exhausted") from exc
    program.refresh_from_db(fields=["committed_cents", "budget_cents"])
    now = timezone.now()
    decision = Decision(
        application=application,
        version=application.version,
        outcome=Decision.Outcome.APPROVED,
        decided_by=actor,
        amount_cents=amount_cents,
        currency=program.currency,
        reasons=reasons.strip()[:10_000],
    )
    full_clean_or_raise(decision)
    decision.save()
    previous = application.status
    application.status = Application.Status.APPROVED
    application.decided_at = now
    application.save(update_fields=["status", "decided_at", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.APPLICATION_APPROVED,
        target=application,
        data={
            "status": {"before": previous, "after": application.status},
            "amount_cents": amount_cents,
            "requested_cents": requested,
        },
    )
    audit_record(
        actor=actor,
        action=AuditAction.PROGRAM_COMMITTED,
        target=program,
        data={
            "committed_cents": {"before": before, "after": program.committed_cents},
            "budget_cents": program.budget_cents,
            "application": application.reference,
        },
    )
    voucher = _voucher_issue(
        application=application, program=program, amount_cents=amount_cents, actor=actor, now=now
    )
    award_letter_request(voucher=voucher, actor=actor, decision=decision)
    _notify(
        application,
        kind="application_approved",
        template="application_approved",
        context={"amount": money(amount_cents), "voucher_code": voucher.code},
    )
    return decision


def _voucher_issue(
    *,
    application: Application,
    program: Program,
    amount_cents: int,
    actor: User,
    now: datetime,
) -> Voucher:
    """Create the voucher with a fresh unguessable code and a copy of the program's terms."""
    for _attempt in range(5):
        try:
            with transaction.atomic():  # a code collision (1 in 2**60) retries with a new code
                voucher = Voucher.objects.create(
                    code=codes.generate(),
                    application=application,
                    program=program,
                    organization=application.organization,
                    currency=program.currency,
                    cap_cents=amount_cents,
                    rate_standard_bps=program.rate_standard_bps,
                    rate_domestic_bps=program.rate_domestic_bps,
                    over_cap_policy=program.over_cap_policy,
                    terms=program.terms_snapshot(),
                    valid_from=now,
                    valid_until=now + timedelta(days=program.voucher_validity_days),
                    issued_by=actor,
                )
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover - needs five collisions of 60-bit random codes
        raise ConflictError(
            _("Could not allocate a voucher code; try again."), code="code_collision"
        )
    # The opening ledger entry: the cap granted and committed from the program's budget.
    from disbursement.services.ledger import ledger_append  # disbursement builds on vouchers

    ledger_append(
        voucher=voucher,
        kind="issue",
        cap_delta=amount_cents,
        committed_delta=amount_cents,
        actor=actor,
        idempotency_key=f"voucher-issue:{voucher.pk}",
        opening=True,
    )
    audit_record(
        actor=actor,
        action=AuditAction.VOUCHER_ISSUED,
        target=voucher,
        data={
            "application": application.reference,
            "cap_cents": amount_cents,
            "currency": voucher.currency,
            "valid_until": voucher.valid_until.isoformat(),
            "rate_standard_bps": voucher.rate_standard_bps,
            "rate_domestic_bps": voucher.rate_domestic_bps,
        },
    )
    return voucher


@transaction.atomic
def application_reject(*, actor: User, application_id: int, reasons: str) -> Decision:
    """Reject with reasons the applicant can read. Deciding twice is refused."""
    application = lock_application(application_id)
    _ensure_can_decide(actor, application)
    if application.status not in DECIDABLE:
        raise ConflictError(
            _("This application is %(status)s and cannot be rejected.")
            % {"status": application.get_status_display()},
            code="invalid_status",
        )
    reasons = reasons.strip()
    if len(reasons) < MIN_REASONS:
        message = _(
            "Give the applicant the reasons (at least %(n)d characters): they will read them."
        ) % {"n": MIN_REASONS}
        raise DomainError(message, code="reasons_required", fields={"reasons": [message]})
    decision = Decision(
        application=application,
        version=application.version,
        outcome=Decision.Outcome.REJECTED,
        decided_by=actor,
        amount_cents=None,
        currency=application.currency,
        reasons=reasons[:10_000],
    )
    full_clean_or_raise(decision)
    decision.save()
    previous = application.status
    application.status = Application.Status.REJECTED
    application.decided_at = timezone.now()
    application.save(update_fields=["status", "decided_at", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.APPLICATION_REJECTED,
        target=application,
        data={"status": {"before": previous, "after": application.status}, "reasons": reasons},
    )
    _notify(
        application,
        kind="application_rejected",
        template="application_rejected",
        context={"reasons": decision.reasons},
    )
    return decision


def _notify(application: Application, *, kind: str, template: str, context: dict) -> None:
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
            dedupe_key=f"{kind}:{application.pk}:{member.pk}",
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
