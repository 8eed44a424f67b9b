from celery import shared_task
from django.conf import settings


@shared_task(
    bind=True, acks_late=True, ignore_result=True, max_retries=settings.LETTER_MAX_ATTEMPTS - 1
)
def award_letter_render_task(self, letter_id: int) -> None:  # type: ignore[no-untyped-def]
    """Render one award letter; a failure retries with back-off, then stays visible to officers."""
    # Imported here: vouchers.services imports this module (breaks the cycle).
    from vouchers.documents import LetterRenderError
    from vouchers.services.letters import award_letter_render

    try:
        award_letter_render(letter_id=letter_id, token=self.request.id or "")
    except LetterRenderError as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=min(60, 2 ** (self.request.retries + 1))) from exc


@shared_task(acks_late=True, ignore_result=True)
def award_letter_sweep_task() -> int:
    from vouchers.services.letters import award_letter_sweep

    return award_letter_sweep()


@shared_task(acks_late=True, ignore_result=True)
def vouchers_expire_task() -> int:
    """Expire vouchers past their validity and release what was left to their programs."""
    from disbursement.services.vouchers import vouchers_expire_due

    return vouchers_expire_due()
