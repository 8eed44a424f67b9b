"""J7: a letter render that outlives its claim must leave the letter another renderer stored.

Renderer A claims a letter and hangs in WeasyPrint (here: until the test releases it) past its
claim; the sweep takes the letter over, renders and stores it (READY, SHA-256 recorded). When A
finally finishes it must find the letter READY and touch nothing. Before the fix in
vouchers/services/letters.py, A deleted and rewrote the stored file outside the row lock: the
file then held A's bytes under the sweep's recorded hash ("never silently regenerated" broken),
and a crash between the delete and the write would have left a READY letter without a file.

Fast and deterministic (threads, each with its own connection), so it runs with `make test`.
"""

import hashlib
import threading
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from tests.factories import UserFactory
from tests.faults.seeding import program_with_providers, ready_application
from vouchers import services as voucher_services
from vouchers.models import AwardLetter
from vouchers.services import letters

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_render_that_outlived_its_claim_leaves_the_stored_letter_alone():
    admin = UserFactory(role="admin")
    approver, reviewer = UserFactory(role="approver"), UserFactory(role="reviewer")
    program = program_with_providers(admin=admin, providers=1, label="RACE")
    app = ready_application(
        program=program,
        provider=program.approved_providers.get(),
        reviewer=reviewer,
        admin=admin,
        approver=approver,
    )
    with mock.patch("vouchers.tasks.award_letter_render_task.delay"):  # rendered by hand below
        voucher_services.application_approve(
            actor=approver, application_id=app.pk, amount_cents=150_000_00
        )
    letter = AwardLetter.objects.get(voucher__application=app)
    claimed, release = threading.Event(), threading.Event()

    def render(snapshot: dict, language: str) -> bytes:
        if threading.current_thread().name == "slow-render":
            claimed.set()
            release.wait(30)  # a render that hangs for longer than its claim lasts
            return b"%PDF-1.7 the slow render"
        return b"%PDF-1.7 the sweep's render"

    def slow_task() -> None:
        try:
            # Called unwrapped by the audit guard: this call's only write is its claim (attempts,
            # claimed_at), and the letter's outcome is audited by the renderer that stored it.
            letters.award_letter_render.__wrapped__(letter_id=letter.pk, token="task-1")
        finally:
            connection.close()

    with mock.patch.object(letters, "render_award_letter", render):
        slow = threading.Thread(target=slow_task, name="slow-render")
        slow.start()
        try:
            assert claimed.wait(30)
            # The claim goes stale; the sweep takes the letter over and finishes it.
            stale = timezone.now() - timedelta(seconds=settings.LETTER_STALE_SECONDS + 1)
            AwardLetter.objects.filter(pk=letter.pk).update(claimed_at=stale)
            swept = voucher_services.award_letter_render(letter_id=letter.pk)
            assert swept is not None and swept.status == AwardLetter.Status.READY
        finally:
            release.set()
            slow.join(30)

    letter.refresh_from_db()
    media = Path(settings.MEDIA_ROOT)
    stored = sorted(str(p.relative_to(media)) for p in (media / "letters").iterdir())
    assert stored == [letter.pdf.name]
    data = (media / letter.pdf.name).read_bytes()
    assert data == b"%PDF-1.7 the sweep's render"
    assert hashlib.sha256(data).hexdigest() == letter.sha256
    assert letter.attempts == 2  # two renders, one stored letter
    assert AuditEvent.objects.filter(action=AuditAction.LETTER_RENDERED).count() == 1
