"""Who may see and do what with claims and voucher money: the one place for disbursement."""

from enum import StrEnum

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from accounts.models import User
from core.exceptions import NotAllowedError
from disbursement.models import Claim, Provider

READ_ALL_ROLES = frozenset(
    {User.Role.REVIEWER, User.Role.APPROVER, User.Role.ADMIN, User.Role.AUDITOR, User.Role.FINANCE}
)
MONEY_OFFICER_ROLES = frozenset({User.Role.APPROVER, User.Role.ADMIN})


class MoneyAction(StrEnum):
    SUBMIT_CLAIM = "submit_claim"
    REVERSE_CLAIM = "reverse_claim"
    CLAWBACK = "clawback"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"


def provider_of(user: User) -> Provider | None:
    """The provider a provider-staff user acts for (None for everyone else)."""
    if not user.is_authenticated or user.role != User.Role.PROVIDER:
        return None
    staff = getattr(user, "provider_staff", None)
    return staff.provider if staff is not None and staff.provider.is_active else None


def allows(user: User, action: MoneyAction) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if action == MoneyAction.SUBMIT_CLAIM:
        return provider_of(user) is not None
    return user.role in MONEY_OFFICER_ROLES


def require(user: User, action: MoneyAction) -> None:
    """Refuse (NotAllowedError: 403, audited) unless `user` may do `action`. Views and APIs call
    this before they validate input, so a refusal never depends on what was sent."""
    if allows(user, action):
        return
    if action == MoneyAction.SUBMIT_CLAIM:
        raise NotAllowedError(_("Only staff of an approved compute provider submit claims."))
    if action == MoneyAction.REVERSE_CLAIM:
        raise NotAllowedError(_("Only approvers and administrators reverse claims."))
    if action == MoneyAction.CLAWBACK:
        raise NotAllowedError(_("Only approvers and administrators claw money back."))
    raise NotAllowedError(_("Only approvers and administrators suspend or reinstate vouchers."))


def claims_visible_to(user: User) -> QuerySet[Claim]:
    """Providers see their own claims; applicants the claims on their vouchers; officers,
    finance and auditors every claim."""
    qs = Claim.objects.select_related("provider", "voucher")
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.role == User.Role.PROVIDER:
        provider = provider_of(user)
        return qs.filter(provider=provider) if provider else qs.none()
    if user.role == User.Role.APPLICANT:
        return qs.filter(Q(voucher__organization__memberships__user=user))
    if user.role in READ_ALL_ROLES:
        return qs
    return qs.none()
