"""Who may run, read and upload reconciliations and see alerts: the one place for these rules
(the API and the pages ask here; the services check again)."""

from enum import StrEnum
from typing import Any

from django.db.models import Q, QuerySet

from accounts.models import User
from disbursement.models import Alert, ReconciliationRun


class ReconAction(StrEnum):
    RUN_LEDGER = "run_ledger"
    VIEW_ALL = "view_all"
    UPLOAD_ANY_STATEMENT = "upload_any_statement"
    VIEW_ALERTS = "view_alerts"
    ACKNOWLEDGE_ALERT = "acknowledge_alert"


ROLES: dict[ReconAction, frozenset[str]] = {
    ReconAction.RUN_LEDGER: frozenset({User.Role.APPROVER, User.Role.ADMIN, User.Role.FINANCE}),
    ReconAction.VIEW_ALL: frozenset(
        {User.Role.APPROVER, User.Role.ADMIN, User.Role.AUDITOR, User.Role.FINANCE}
    ),
    ReconAction.UPLOAD_ANY_STATEMENT: frozenset(
        {User.Role.APPROVER, User.Role.ADMIN, User.Role.FINANCE}
    ),
    ReconAction.VIEW_ALERTS: frozenset(
        {User.Role.APPROVER, User.Role.ADMIN, User.Role.AUDITOR, User.Role.FINANCE}
    ),
    ReconAction.ACKNOWLEDGE_ALERT: frozenset(
        {User.Role.APPROVER, User.Role.ADMIN, User.Role.FINANCE}
    ),
}
LEDGER_ALERT_ROLES = (User.Role.APPROVER, User.Role.ADMIN, User.Role.AUDITOR)
STATEMENT_ALERT_ROLES = (*LEDGER_ALERT_ROLES, User.Role.FINANCE)


def recon_allows(user: Any, action: ReconAction) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role in ROLES[action])


def own_provider_id(user: Any) -> int | None:
    """The provider a provider-staff user acts for, if that provider is active."""
    from disbursement.policies import provider_of  # the app's policy module owns this rule

    provider = provider_of(user)
    return provider.pk if provider is not None else None


def may_upload_statement(user: Any, provider_id: int) -> bool:
    if recon_allows(user, ReconAction.UPLOAD_ANY_STATEMENT):
        return True
    return user.is_authenticated and user.is_active and own_provider_id(user) == provider_id


def runs_visible_to(user: Any) -> QuerySet[ReconciliationRun]:
    """Finance, approvers, admins and auditors see every run; provider staff their own
    provider's statement runs; everybody else nothing."""
    qs = ReconciliationRun.objects.select_related("provider", "started_by")
    if recon_allows(user, ReconAction.VIEW_ALL):
        return qs
    provider_id = own_provider_id(user) if user.is_authenticated and user.is_active else None
    if provider_id is None:
        return qs.none()
    return qs.filter(kind=ReconciliationRun.Kind.STATEMENT, provider_id=provider_id)


def alerts_visible_to(user: Any) -> QuerySet[Alert]:
    qs = Alert.objects.select_related("voucher", "run", "acknowledged_by")
    return qs if recon_allows(user, ReconAction.VIEW_ALERTS) else qs.none()


def open_alerts(qs: QuerySet[Alert]) -> QuerySet[Alert]:
    return qs.filter(Q(acknowledged_at__isnull=True))
