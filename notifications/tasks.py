from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def notification_deliver_task(notification_id: int) -> None:
    # Imported here: notifications.services imports this module (breaks the cycle).
    from notifications.services import notification_deliver

    notification_deliver(notification_id=notification_id)


@shared_task(acks_late=True, ignore_result=True)
def notification_sweep_task() -> int:
    from notifications.services import notification_sweep

    return notification_sweep()
