"""Celery entry points of the audit trail."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def audit_checkpoint_seal_task() -> int:
    """Seal every stream's head into the next checkpoint (hourly, see CELERY_BEAT_SCHEDULE).

    Returns the checkpoint's seq. Not retried: the next hour's seal covers everything this one
    would have, and a seal racing another (ConflictError) has nothing left to do.
    """
    # Imported here, as the other apps' tasks do, so that services may import this module.
    from audit.services import audit_checkpoint_seal

    return audit_checkpoint_seal().seq
