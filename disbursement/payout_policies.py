"""Who may see and do what with payouts: the one place these decisions live.

Finance prepares, approves (four eyes), marks paid and exports. Auditors and administrators
read and export. A provider's staff read their own provider's payouts and nothing else; for
everyone else a payout does not exist (404).
"""

from enum import StrEnum
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.models import User
from audit.services import audit_refuse
from disbursement.models import Payout
from disbursement.policies import provider_of

BIGINT_MAX = 2**63 - 1
WRITE_ROLES = frozenset({User.Role.FINANCE})
READ_ALL_ROLES = frozenset({User.Role.FINANCE, User.Role.AUDITOR, User.Role.ADMIN})


class PayoutAction(StrEnum):
    LIST = "list"
    VIEW = "view"
    EXPORT = "export"
    CREATE = "create"
    APPROVE = "approve"
    MARK_PAID = "mark_paid"


WRITE_ACTIONS = frozenset({PayoutAction.CREATE, PayoutAction.APPROVE, PayoutAction.MARK_PAID})


def payout_allows(user: User, action: PayoutAction, payout: Payout | None = None) -> bool:
    """Whether `user` may do `action` (to `payout`, when the action concerns one).

    Role rules only: the four-eyes rule and the status rules are checked by the services,
    which can say why (see `payout_approve_blocker`).
    """
    if not user.is_authenticated or not user.is_active:
        return False
    if action in WRITE_ACTIONS:
        return user.role in WRITE_ROLES
    if action == PayoutAction.LIST:  # providers' staff list their own provider's payouts
        return user.role in READ_ALL_ROLES or user.role == User.Role.PROVIDER
    if user.role in READ_ALL_ROLES:
        return True
    if action == PayoutAction.VIEW and user.role == User.Role.PROVIDER and payout is not None:
        provider = provider_of(user)
        return provider is not None and provider.pk == payout.provider_id
    return False


def finance_pages_allowed(user: User) -> bool:
    """The finance pages list every provider's payouts: finance, auditors and admins only."""
    return user.is_authenticated and user.is_active and user.role in READ_ALL_ROLES


def payouts_visible_to(user: User) -> QuerySet[Payout]:
    """Every payout for finance, auditors and admins; a provider's own for its staff."""
    qs = Payout.objects.select_related("provider", "created_by", "approved_by", "paid_by")
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.role in READ_ALL_ROLES:
        return qs
    if user.role == User.Role.PROVIDER:
        provider = provider_of(user)
        return qs.filter(provider=provider) if provider is not None else qs.none()
    return qs.none()


def payout_approve_blocker(user: User, payout: Payout) -> str | None:
    """Why `user` cannot approve `payout` now, in words for the page; None if they can."""
    if not payout_allows(user, PayoutAction.APPROVE, payout):
        return _("Only finance officers approve payouts.")
    if payout.status != Payout.Status.DRAFT:
        return _("This payout is %(status)s; only prepared payouts can be approved.") % {
            "status": payout.get_status_display()
        }
    if payout.created_by_id == user.pk:
        return _(
            "You prepared this payout, so another finance officer must approve it (four eyes)."
        )
    return None


def deny(*, viewer: User, action: str, target: Payout | None = None, reveal: bool) -> None:
    """Record a refused attempt, then refuse: 403 if the viewer may see the payout, else 404."""
    audit_refuse(
        viewer=viewer,
        attempted=f"payout.{action}",
        target=target,
        reveal=reveal,
        not_found="No such payout.",
    )


def payout_require(*, viewer: User, action: PayoutAction) -> None:
    """For actions on no particular payout (list, create): refuse, recorded, unless allowed."""
    if not payout_allows(viewer, action):
        deny(viewer=viewer, action=str(action), reveal=True)


def payout_get_for(*, viewer: User, payout_id: Any, action: PayoutAction) -> Payout:
    """The payout if the viewer may `action` it; otherwise the refusal is recorded and Http404
    (cannot see it: another provider's payout) or NotAllowedError (can see, may not act)."""
    try:
        pk = int(payout_id)
    except (TypeError, ValueError):
        raise Http404("No such payout.") from None
    if not 1 <= pk <= BIGINT_MAX:
        raise Http404("No such payout.")
    payout = (
        Payout.objects.select_related("provider", "created_by", "approved_by", "paid_by")
        .filter(pk=pk)
        .first()
    )
    if payout is None:
        raise Http404("No such payout.")
    if not payout_allows(viewer, action, payout):
        deny(
            viewer=viewer,
            action=str(action),
            target=payout,
            reveal=payout_allows(viewer, PayoutAction.VIEW, payout),
        )
    return payout
