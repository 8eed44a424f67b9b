from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notification_deliver, notification_enqueue, notification_sweep
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db


def _enqueue(**extra):
    return notification_enqueue(
        kind="test",
        recipient_email="a@example.com",
        template="verify_email",
        context={"user_name": "A", "link": "http://x/verify", "hours": 72},
        **extra,
    )


def test_enqueue_delivers_after_commit(mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        n = _enqueue()
    n.refresh_from_db()
    assert n.status == Notification.Status.SENT and n.attempts == 1 and n.sent_at
    assert mailoutbox[0].subject == "Confirm your email address for Compute Vouchers"
    assert "http://x/verify" in mailoutbox[0].body


def test_rolled_back_cause_sends_nothing(mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                _enqueue()
                raise RuntimeError("the cause failed")
        except RuntimeError:
            pass
    assert not Notification.objects.exists()
    assert mailoutbox == []


def test_enqueue_renders_in_the_recipients_language():
    n = _enqueue(language="zh-hans")
    assert n.language == "zh-hans"


def test_dedupe_key_queues_once():
    a = _enqueue(dedupe_key="k1")
    b = _enqueue(dedupe_key="k1")
    assert a.pk == b.pk and Notification.objects.count() == 1


def test_broker_down_does_not_fail_the_request(django_capture_on_commit_callbacks):
    with mock.patch(
        "notifications.tasks.notification_deliver_task.delay", side_effect=OSError("redis down")
    ):
        with django_capture_on_commit_callbacks(execute=True):
            n = _enqueue()
    n.refresh_from_db()
    assert n.status == Notification.Status.PENDING  # waits for the sweep


def test_smtp_failure_backs_off_then_fails_after_max_attempts(settings, mailoutbox):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    n = _enqueue()
    with mock.patch(
        "django.core.mail.EmailMultiAlternatives.send", side_effect=ConnectionRefusedError("smtp")
    ):
        notification_deliver(notification_id=n.pk)
        n.refresh_from_db()
        assert n.status == "pending" and n.attempts == 1 and "smtp" in n.last_error
        assert n.next_attempt_at > timezone.now()
        Notification.objects.filter(pk=n.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        notification_sweep()
    n.refresh_from_db()
    assert n.status == "failed" and n.attempts == 2
    assert mailoutbox == []


def test_deliver_twice_sends_once(mailoutbox):
    n = _enqueue()
    notification_deliver(notification_id=n.pk)
    notification_deliver(notification_id=n.pk)
    assert len(mailoutbox) == 1


def test_a_redelivered_task_takes_its_own_claim_back_at_once(mailoutbox):
    """The worker process died mid-send (the row is SENDING, claimed a moment ago): the same
    task, redelivered, sends it now; another task or the sweep waits for the claim to go stale."""
    n = _enqueue()
    Notification.objects.filter(pk=n.pk).update(
        status="sending", claimed_at=timezone.now(), claim_token="task-1", attempts=1
    )
    assert notification_deliver(notification_id=n.pk, token="task-2") is None
    assert notification_deliver(notification_id=n.pk) is None
    assert notification_sweep() == 0 and mailoutbox == []
    sent = notification_deliver(notification_id=n.pk, token="task-1")
    assert sent is not None and sent.status == "sent" and sent.attempts == 2
    assert len(mailoutbox) == 1


def test_sweep_delivers_what_was_missed_and_reclaims_stale_sends(mailoutbox, settings):
    old = timezone.now() - timedelta(minutes=10)
    pending = _enqueue()
    stuck = _enqueue()
    fresh = _enqueue()
    Notification.objects.filter(pk=pending.pk).update(created_at=old)
    Notification.objects.filter(pk=stuck.pk).update(
        status="sending", claimed_at=old, created_at=old
    )
    assert notification_sweep() == 2
    statuses = dict(Notification.objects.values_list("pk", "status"))
    assert statuses[pending.pk] == statuses[stuck.pk] == "sent"
    assert statuses[fresh.pk] == "pending"  # brand new: left to its own on-commit task
    assert len(mailoutbox) == 2


@pytest.mark.redis
def test_real_worker_delivers_through_redis(real_celery_worker, mailoutbox, settings):
    """The on-commit task travels through the real Redis broker to a real worker."""
    n = _enqueue()  # transactional_db: committed immediately, on_commit fires at once
    assert wait_until(lambda: Notification.objects.get(pk=n.pk).status == "sent")
    assert len(mailoutbox) == 1
