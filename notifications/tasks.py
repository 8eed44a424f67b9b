from celery import shared_task


@shared_task(bind=True, acks_late=True, ignore_result=True)
def notification_deliver_task(self, notification_id: int) -> None:  # type: ignore[no-untyped-def]
    # Imported here: notifications.services imports this module (breaks the cycle).
    from notifications.services import notification_deliver

    notification_deliver(notification_id=notification_id, token=self.request.id or "")


@shared_task(acks_late=True, ignore_result=True)
def notification_sweep_task() -> int:
    from notifications.services import notification_sweep

    return notification_sweep()
