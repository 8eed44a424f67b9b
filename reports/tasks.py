from celery import shared_task


@shared_task(bind=True, acks_late=True, ignore_result=True)
def report_render_task(self, report_id: int) -> None:  # type: ignore[no-untyped-def]
    """Render one report. Idempotent: a done report is left alone; a redelivered task (its
    worker died) takes its own claim back. Failures are recorded on the report, not retried:
    the requester sees the message and retries once the cause is fixed."""
    # Imported here: reports.services imports this module (breaks the cycle).
    from reports.services import report_render

    report_render(report_id=report_id, token=self.request.id or "")


@shared_task(acks_late=True, ignore_result=True)
def report_sweep_task() -> int:
    """Queue again the reports whose task was lost (broker down) or whose worker died."""
    from reports.services import report_sweep

    return report_sweep()
