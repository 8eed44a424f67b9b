"""Alerts officers acknowledge."""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditAction
from audit.services import audit_record
from core.exceptions import NotAllowedError
from disbursement.models import Alert
from disbursement.services.reconciliation.policy import ReconAction, recon_allows


@transaction.atomic
def alert_acknowledge(*, actor: Any, alert_id: int) -> Alert:
    """Mark an alert seen. Acknowledging an acknowledged alert is a no-op."""
    if not recon_allows(actor, ReconAction.ACKNOWLEDGE_ALERT):
        raise NotAllowedError(_("Only approvers, administrators and finance acknowledge alerts."))
    alert = Alert.objects.select_for_update().get(pk=alert_id)  # two officers clicking at once
    if alert.acknowledged_at is not None:
        return alert
    alert.acknowledged_by = actor
    alert.acknowledged_at = timezone.now()
    alert.save(update_fields=["acknowledged_by", "acknowledged_at", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.ALERT_ACKNOWLEDGED,
        target=alert,
        data={"kind": alert.kind, "message": alert.message, "run": alert.run_id},
    )
    return alert
