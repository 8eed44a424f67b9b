"""What applicants do with their voucher."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_record
from core.exceptions import ConflictError, DomainError, NotAllowedError
from vouchers.models import AwardLetter, Voucher
from vouchers.policies import VoucherAction, voucher_allows


@transaction.atomic
def voucher_accept(*, actor: User, voucher_id: int) -> Voucher:
    """Accept the award on the organization's behalf: the voucher becomes active.

    Needs the award letter to be ready (the applicant accepts what the letter says). Accepting
    an active voucher again is a no-op.
    """
    # Lock the voucher: a double click must activate it once, and never race a suspension.
    voucher = Voucher.objects.select_for_update().get(pk=voucher_id)
    if not voucher_allows(actor, voucher, VoucherAction.ACCEPT):
        raise NotAllowedError(_("Only members of the organization can accept its award."))
    if voucher.status == Voucher.Status.ACTIVE:
        return voucher
    if voucher.status != Voucher.Status.ISSUED:
        raise ConflictError(
            _("This voucher is %(status)s and can no longer be accepted.")
            % {"status": voucher.get_status_display()},
            code="invalid_status",
        )
    if voucher.valid_until <= timezone.now():
        raise DomainError(
            _("The award expired on %(date)s without being accepted.")
            % {"date": timezone.localtime(voucher.valid_until).date()},
            code="voucher_expired",
        )
    if not voucher.letters.filter(
        status=AwardLetter.Status.READY, superseded_at__isnull=True
    ).exists():
        raise DomainError(
            _(
                "The award letter is not ready yet. Read it before you accept; we will "
                "email you when it is ready."
            ),
            code="letter_not_ready",
        )
    voucher.status = Voucher.Status.ACTIVE
    voucher.activated_at = timezone.now()
    voucher.accepted_by = actor
    voucher.save(update_fields=["status", "activated_at", "accepted_by", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.VOUCHER_ACTIVATED,
        target=voucher,
        data={"status": {"before": Voucher.Status.ISSUED, "after": Voucher.Status.ACTIVE}},
    )
    return voucher
