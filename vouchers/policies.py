"""Who may see and act on vouchers and their letters: the one place these decisions live."""

from enum import StrEnum

from accounts.models import User
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
