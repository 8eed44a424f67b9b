"""Queue and deliver notifications through the outbox table."""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from core.dispatch import dispatch_after_commit
from notifications.models import Notification
from notifications.tasks import notification_deliver_task

logger = logging.getLogger(__name__)


@transaction.atomic(savepoint=False)
def notification_enqueue(
    *,
    kind: str,
    recipient_email: str,
    template: str,
    context: dict[str, Any],
    language: str = "en",
    recipient: Any = None,
    dedupe_key: str | None = None,
) -> Notification:
    """Render an email in the recipient's language and store it for delivery after commit.

    `template` names templates/emails/<template>.subject.txt and .body.txt. With a dedupe_key,
    a repeat call returns the first notification instead of queueing another email.
    """
    if dedupe_key:
        existing = Notification.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    with translation.override(language):
        ctx = {"SITE_URL": settings.SITE_URL, **context}
        subject = render_to_string(f"emails/{template}.subject.txt", ctx).strip()
        body = render_to_string(f"emails/{template}.body.txt", ctx)
    notification = Notification(
        kind=kind,
        recipient=recipient,
        recipient_email=recipient_email,
        language=language,
        subject=" ".join(subject.split())[:300],
        body_text=body,
        dedupe_key=dedupe_key,
    )
    # The dedupe check above and the database constraints cover uniqueness and choices; skipping
    # them here saves round trips on every email.
    notification.full_clean(
        exclude=["recipient"], validate_unique=False, validate_constraints=False
    )
    notification.save()
    dispatch_after_commit(notification_deliver_task, notification_id=notification.pk)
    return notification


def _claim(notification_id: int, token: str) -> Notification | None:
    """Mark a deliverable notification SENDING in a short transaction; None if not ours to send.
    A row SENDING under the same (non-empty) token is ours: our task, redelivered."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.OUTBOX_STALE_SECONDS)
    with transaction.atomic():
        # Two workers (the on-commit task and a sweep) may race for the same row: one wins.
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id)
            .first()
        )
        if notification is None:
            return None
        sending = notification.status == Notification.Status.SENDING
        claimable = notification.status == Notification.Status.PENDING or (
            sending
            and (
                (notification.claimed_at is not None and notification.claimed_at < stale)
                or (bool(token) and notification.claim_token == token)
            )
        )
        if not claimable:
            return None
        notification.status = Notification.Status.SENDING
        notification.claimed_at = now
        notification.claim_token = token
        notification.attempts += 1
        notification.save(
            update_fields=["status", "claimed_at", "claim_token", "attempts", "updated_at"]
        )
        return notification


def notification_deliver(*, notification_id: int, token: str = "") -> Notification | None:
    """Send one queued email. Safe to call twice: a sent notification is left alone.

    The SMTP call happens outside any transaction. A crash between sending and recording leaves
    the row SENDING: the same task redelivered (same `token`, its Celery id) sends it again at
    once; otherwise the sweep does after OUTBOX_STALE_SECONDS (at-least-once delivery).
    """
    notification = _claim(notification_id, token)
    if notification is None:
        return None
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=notification.body_text,
        to=[notification.recipient_email],
        headers={"X-Notification-Id": str(notification.pk)},
    )
    try:
        message.send(fail_silently=False)
    except Exception as exc:
        failed = notification.attempts >= settings.OUTBOX_MAX_ATTEMPTS
        backoff = timedelta(seconds=min(3600, 30 * 2 ** (notification.attempts - 1)))
        Notification.objects.filter(pk=notification.pk).update(
            status=Notification.Status.FAILED if failed else Notification.Status.PENDING,
            next_attempt_at=None if failed else timezone.now() + backoff,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            updated_at=timezone.now(),
        )
        logger.warning("notification %s not sent: %s", notification.pk, exc)
        notification.refresh_from_db()
        return notification
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.SENT, sent_at=timezone.now(), updated_at=timezone.now()
    )
    notification.refresh_from_db()
    return notification


def notification_sweep(*, limit: int = 500) -> int:
    """Deliver what the on-commit tasks missed (broker down, worker killed). Returns the count."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.OUTBOX_STALE_SECONDS)
    grace = now - timedelta(seconds=5)  # leave brand-new rows to their own on-commit task
    due = (
        Notification.objects.filter(
            Q(
                status=Notification.Status.PENDING,
                next_attempt_at__isnull=True,
                created_at__lt=grace,
            )
            | Q(status=Notification.Status.PENDING, next_attempt_at__lte=now)
            | Q(status=Notification.Status.SENDING, claimed_at__lt=stale)
        )
        .order_by("created_at")
        .values_list("pk", flat=True)
    )
    ids = list(due[:limit])
    for pk in ids:
        notification_deliver(notification_id=pk)
    return len(ids)
