"""Celery entry points of disbursement: each loads by id (or nothing) and calls one service."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def reconcile_ledger_task() -> int:
    """The nightly ledger reconciliation (see CELERY_BEAT_SCHEDULE). Returns the run's id.

    Not retried: a failed run is stored as failed with its error, and the next night's run (or
    `manage.py reconcile`) checks everything again; a rerun never changes money.
    """
    # Imported here: services may import this module (breaks the cycle).
    from disbursement.services.reconciliation import reconcile_ledger

    return reconcile_ledger(actor=None).pk
