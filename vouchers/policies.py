"""Who may see and act on vouchers and their letters: the one place these decisions live."""

from enum import StrEnum

from django.utils.translation import gettext as _

from accounts.models import User
from core.exceptions import NotAllowedError
from vouchers.models import Voucher

VOUCHER_READ_ROLES = frozenset(
    {User.Role.REVIEWER, User.Role.APPROVER, User.Role.ADMIN, User.Role.AUDITOR, User.Role.FINANCE}
)


class VoucherAction(StrEnum):
    VIEW = "view"
    ACCEPT = "accept"
    REISSUE_LETTER = "reissue_letter"


def _is_member(user: User, voucher: Voucher) -> bool:
    from applicants.models import Membership

    return Membership.objects.filter(
        user_id=user.pk, organization_id=voucher.organization_id
    ).exists()


def voucher_allows(user: User, voucher: Voucher, action: VoucherAction) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.role == User.Role.APPLICANT:
        return action in (VoucherAction.VIEW, VoucherAction.ACCEPT) and _is_member(user, voucher)
    if action == VoucherAction.VIEW:
        return user.role in VOUCHER_READ_ROLES
    if action == VoucherAction.REISSUE_LETTER:
        return user.role in (User.Role.APPROVER, User.Role.ADMIN)
    return False


def require_program_admin(user: User) -> None:
    """Programs and their rubrics are created and changed by administrators only. The APIs ask
    this before they read the input, so that anyone else is refused (403) whatever they send."""
    if not (user.is_authenticated and user.is_active and user.role == User.Role.ADMIN):
        raise NotAllowedError(_("Only administrators create and change programs."))
