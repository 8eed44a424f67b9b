"""Officer and system actions on voucher money: reversals, clawbacks, suspension, expiry."""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_record
from core.exceptions import ConflictError, DomainError, NotAllowedError
from core.money import format_money
from disbursement.models import Alert, Claim, LedgerEntry
from disbursement.policies import MoneyAction, allows
from disbursement.services.ledger import ledger_append
from notifications.services import notification_enqueue
from vouchers.models import Program, Voucher

MIN_REASON = 10


def _reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) < MIN_REASON:
        message = _(
            "Give the reason (at least %(n)d characters); it is kept in the ledger and the audit "
            "trail."
        ) % {"n": MIN_REASON}
        raise DomainError(message, code="reason_required", fields={"reason": [message]})
    return reason[:1000]


def _lock(voucher_id: int) -> Voucher:
    # Every movement on a voucher locks its row first: claims, reversals, clawbacks, expiry.
    return Voucher.objects.select_for_update().get(pk=voucher_id)


@transaction.atomic(durable=True)
def claim_reverse(*, actor: User, claim_id: int, reason: str) -> Claim:
    """Give a charged claim's subsidy back to the voucher (a credit note, an error). Reversing a
    reversed claim is a no-op; a claim already in a payout must be taken out of it first."""
    if not allows(actor, MoneyAction.REVERSE_CLAIM):
        raise NotAllowedError(_("Only approvers and administrators reverse claims."))
    reason = _reason(reason)
    claim = Claim.objects.get(pk=claim_id)
    if claim.voucher_id is None:
        raise ConflictError(_("A rejected claim moved no money."), code="invalid_status")
    voucher = _lock(claim.voucher_id)
    claim = Claim.objects.select_for_update().get(pk=claim_id)
    if claim.status == Claim.Status.REVERSED:
        return claim
    if claim.status != Claim.Status.ACCEPTED:
        raise ConflictError(_("Only an accepted claim can be reversed."), code="invalid_status")
    if claim.payout_id is not None:
        raise ConflictError(
            _("This claim is in payout %(ref)s; it cannot be reversed now.")
            % {"ref": claim.payout.reference if claim.payout else ""},
            code="in_payout",
        )
    if claim.subsidy_cents > voucher.spent_cents:
        # A clawback already took this money back: reversing too would return it twice.
        raise ConflictError(
            _("Only %(spent)s is left spent on this voucher (a clawback took the rest back).")
            % {"spent": format_money(voucher.spent_cents, voucher.currency)},
            code="clawed_back",
        )
    before = voucher.spent_cents
    ledger_append(
        voucher=voucher,
        kind=LedgerEntry.Kind.REVERSAL,
        spent_delta=-claim.subsidy_cents,
        claim=claim,
        actor=actor,
        reason=reason,
        idempotency_key=f"reversal:{claim.pk}",
    )
    released = 0
    if voucher.status == Voucher.Status.EXPIRED and claim.subsidy_cents:
        # The validity is over: what comes back cannot be spent again, so it is released to
        # the program at once, as the expiry released the unspent rest.
        released = claim.subsidy_cents
        _release(voucher, released, key=f"expiry:reversal:{claim.pk}")
    claim.status = Claim.Status.REVERSED
    claim.reversed_at = timezone.now()
    claim.reversal_reason = reason
    claim.save(update_fields=["status", "reversed_at", "reversal_reason", "updated_at"])
    if voucher.status == Voucher.Status.EXHAUSTED and voucher.spent_cents < voucher.cap_cents:
        Voucher.objects.filter(pk=voucher.pk).update(status=Voucher.Status.ACTIVE)
    audit_record(
        actor=actor,
        action=AuditAction.CLAIM_REVERSED,
        target=voucher,
        data={
            "claim": claim.pk,
            "reason": reason,
            "amount_cents": claim.subsidy_cents,
            "spent_cents": {"before": before, "after": voucher.spent_cents},
            "released_to_program_cents": released,
        },
    )
    return claim


@transaction.atomic(durable=True)
def voucher_clawback(
    *, actor: User, voucher_id: int, amount_cents: int, reason: str
) -> LedgerEntry:
    """Recover money already paid out under a voucher (fraud, ineligible use). The amount leaves
    the voucher for good (spent and cap go down together) and returns to the program's budget."""
    if not allows(actor, MoneyAction.CLAWBACK):
        raise NotAllowedError(_("Only approvers and administrators claw money back."))
    reason = _reason(reason)
    voucher = _lock(voucher_id)
    if amount_cents <= 0 or amount_cents > voucher.spent_cents:
        message = _("Claw back between 0.01 and the %(spent)s spent.") % {
            "spent": format_money(voucher.spent_cents, voucher.currency)
        }
        raise DomainError(message, code="amount_out_of_range", fields={"amount": [message]})
    program = Program.objects.select_for_update().get(
        pk=voucher.program_id
    )  # voucher first, then program
    before = {
        "spent": voucher.spent_cents,
        "cap": voucher.cap_cents,
        "committed": program.committed_cents,
    }
    entry = ledger_append(
        voucher=voucher,
        kind=LedgerEntry.Kind.CLAWBACK,
        spent_delta=-amount_cents,
        cap_delta=-amount_cents,
        committed_delta=-amount_cents,
        actor=actor,
        reason=reason,
        idempotency_key=f"clawback:{voucher.pk}:{voucher.spent_cents}:{timezone.now().timestamp()}",
    )
    Program.objects.filter(pk=program.pk).update(
        committed_cents=F("committed_cents") - amount_cents
    )
    audit_record(
        actor=actor,
        action=AuditAction.VOUCHER_CLAWBACK,
        target=voucher,
        data={
            "amount_cents": amount_cents,
            "reason": reason,
            "before": before,
            "after": {
                "spent": voucher.spent_cents,
                "cap": voucher.cap_cents,
                "committed": program.committed_cents - amount_cents,
            },
        },
    )
    return entry


def _release(voucher: Voucher, amount_cents: int, *, key: str) -> None:
    """Take `amount_cents` off an ending voucher's cap and give it back to the program's budget
    (locks the program after the voucher, which the caller holds)."""
    program = Program.objects.select_for_update().get(pk=voucher.program_id)
    ledger_append(
        voucher=voucher,
        kind=LedgerEntry.Kind.EXPIRY_RELEASE,
        cap_delta=-amount_cents,
        committed_delta=-amount_cents,
        reason="validity ended",
        idempotency_key=key,
    )
    if amount_cents:
        Program.objects.filter(pk=program.pk).update(
            committed_cents=F("committed_cents") - amount_cents
        )


def _transition(
    actor: User,
    voucher_id: int,
    action: MoneyAction,
    target: str,
    reason: str,
    audit_action: AuditAction,
) -> Voucher:
    if not allows(actor, action):
        raise NotAllowedError(_("Only approvers and administrators suspend or reinstate vouchers."))
    reason = _reason(reason)
    voucher = _lock(voucher_id)
    if voucher.status == target:
        return voucher
    # Reinstating undoes a suspension and nothing else (an exhausted voucher stays exhausted).
    reinstating = action == MoneyAction.REINSTATE
    if target not in Voucher.TRANSITIONS[voucher.status] or (
        reinstating and voucher.status != Voucher.Status.SUSPENDED
    ):
        raise ConflictError(
            _("This voucher is %(status)s.") % {"status": voucher.get_status_display()},
            code="invalid_status",
        )
    before = voucher.status
    voucher.status = target
    voucher.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action=audit_action,
        target=voucher,
        data={"status": {"before": before, "after": target}, "reason": reason},
    )
    return voucher


@transaction.atomic
def voucher_suspend(*, actor: User, voucher_id: int, reason: str) -> Voucher:
    """Stop claims on a voucher while something is checked. Suspending twice is a no-op."""
    return _transition(
        actor,
        voucher_id,
        MoneyAction.SUSPEND,
        Voucher.Status.SUSPENDED,
        reason,
        AuditAction.VOUCHER_SUSPENDED,
    )


@transaction.atomic
def voucher_reinstate(*, actor: User, voucher_id: int, reason: str) -> Voucher:
    return _transition(
        actor,
        voucher_id,
        MoneyAction.REINSTATE,
        Voucher.Status.ACTIVE,
        reason,
        AuditAction.VOUCHER_REINSTATED,
    )


EXPIRABLE = (
    Voucher.Status.ISSUED,
    Voucher.Status.ACTIVE,
    Voucher.Status.SUSPENDED,
    Voucher.Status.EXHAUSTED,
)


@transaction.atomic(durable=True)
def voucher_expire(*, voucher_id: int, now: datetime | None = None) -> Voucher:
    """Expire a voucher past its validity and release what was not spent back to the program.

    Idempotent: an expired voucher is left alone (the release entry's key is unique anyway).
    """
    now = now or timezone.now()
    voucher = _lock(voucher_id)
    if (
        voucher.status == Voucher.Status.EXPIRED
        or voucher.status not in EXPIRABLE
        or voucher.valid_until > now
    ):
        return voucher
    unspent = voucher.cap_cents - voucher.spent_cents
    _release(voucher, unspent, key=f"expiry:{voucher.pk}")
    before = voucher.status
    Voucher.objects.filter(pk=voucher.pk).update(status=Voucher.Status.EXPIRED, updated_at=now)
    voucher.status = Voucher.Status.EXPIRED
    audit_record(
        actor=None,
        action=AuditAction.VOUCHER_EXPIRED,
        target=voucher,
        data={
            "status": {"before": before, "after": "expired"},
            "released_cents": unspent,
            "spent_cents": voucher.spent_cents,
        },
    )
    Alert.objects.get_or_create(
        dedupe_key=f"expired:{voucher.pk}",
        defaults={
            "kind": Alert.Kind.EXPIRED,
            "voucher": voucher,
            "message": _("Voucher %(code)s expired; %(amount)s unspent returned to the program.")
            % {"code": voucher.code, "amount": format_money(unspent, voucher.currency)},
        },
    )
    members = User.objects.filter(
        memberships__organization_id=voucher.organization_id, is_active=True
    )
    for member in members:
        notification_enqueue(
            kind="voucher_expired",
            recipient=member,
            recipient_email=member.email,
            language=member.preferred_language,
            template="voucher_expired",
            dedupe_key=f"voucher_expired:{voucher.pk}:{member.pk}",
            context={
                "user_name": member.full_name,
                "code": voucher.code,
                "spent": format_money(voucher.spent_cents, voucher.currency),
                "released": format_money(unspent, voucher.currency),
                "link": settings.SITE_URL + reverse("applicants:voucher_detail", args=[voucher.pk]),
            },
        )
    return voucher


def vouchers_expire_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Expire every voucher past its validity, each in its own transaction. Returns the count."""
    now = now or timezone.now()
    due = list(
        Voucher.objects.filter(status__in=EXPIRABLE, valid_until__lte=now)
        .order_by("valid_until")
        .values_list("pk", flat=True)[:limit]
    )
    for voucher_id in due:
        voucher_expire(voucher_id=voucher_id, now=now)
    return len(due)
