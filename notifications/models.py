"""The outbox: every email is a row first, written in the same transaction as its cause.

A Celery task delivers it after commit; if Redis or SMTP is down the row simply waits, and the
scheduled sweep (notifications.tasks.notification_sweep_task) delivers it later. Nothing is lost
and a cause that rolled back never sends mail.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel


class Notification(BaseModel):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    TRANSITIONS: dict[str, set[str]] = {
        Status.PENDING: {Status.SENDING},
        Status.SENDING: {Status.SENT, Status.PENDING, Status.FAILED},
        Status.SENT: set(),
        Status.FAILED: {Status.PENDING},
    }

    kind = models.CharField(max_length=60, db_index=True)
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipient_email = models.EmailField(max_length=254)
    language = models.CharField(max_length=10, default="en")
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The Celery task id of the delivery that claimed the row: the same task, redelivered after
    # its worker process died, takes its own claim back at once instead of waiting until stale.
    claim_token = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "sending", "sent", "failed"]),
                name="notification_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient_email} ({self.status})"
