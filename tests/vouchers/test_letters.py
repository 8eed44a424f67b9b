"""Award letters: rendered once from a frozen snapshot, stored with their hash, checkable."""

import hashlib
import io
import re
import time

import pytest
from django.urls import reverse
from pypdf import PdfReader

from audit.models import AuditAction, AuditEvent
from notifications.models import Notification
from tests.conftest import api_as, wait_until
from vouchers import services
from vouchers.models import AwardLetter, Voucher
from vouchers.tasks import award_letter_render_task

pytestmark = pytest.mark.django_db


def _text(letter: AwardLetter) -> str:
    with letter.pdf.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_letter_is_rendered_with_reference_organization_and_amount(approved):
    letter = AwardLetter.objects.get(voucher__application=approved)
    assert letter.status == AwardLetter.Status.READY
    with letter.pdf.open("rb") as handle:
        data = handle.read()
    assert data.startswith(b"%PDF-") and letter.sha256 == hashlib.sha256(data).hexdigest()
    assert letter.size_bytes == len(data) and letter.template_version
    text = _text(letter)
    assert letter.reference in text
    assert approved.organization.legal_name in text
    assert "USD 150,000.00" in text or "CNY 150,000.00" in text
    assert "One hundred fifty thousand" in text
    assert approved.voucher.code in text
    assert "/verify/" in text.replace(" ", "")
    assert AuditEvent.objects.filter(action=AuditAction.LETTER_RENDERED).exists()
    assert Notification.objects.filter(kind="letter_ready").exists()


def test_chinese_letter_has_chinese_text_and_amount_in_capitals(
    ready, approver, applicant, django_capture_on_commit_callbacks
):
    applicant.preferred_language = "zh-hans"
    applicant.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.application_approve(
            actor=approver, application_id=ready.pk, amount_cents=150_000_00
        )
    letter = AwardLetter.objects.get(voucher__application=ready)
    assert letter.language == "zh-hans"
    text = _text(letter).replace(" ", "")
    assert "壹拾伍万元整" in text and "算力券资助通知书" in text and "文号" in text


def test_running_the_task_twice_gives_one_letter(approved):
    letter = AwardLetter.objects.get(voucher__application=approved)
    before = (letter.sha256, letter.pdf.name, letter.rendered_at)
    award_letter_render_task.apply(kwargs={"letter_id": letter.pk})
    services.award_letter_render(letter_id=letter.pk)
    letter.refresh_from_db()
    assert (letter.sha256, letter.pdf.name, letter.rendered_at) == before
    assert AwardLetter.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.LETTER_RENDERED).count() == 1


def test_missing_font_retries_then_fails_visibly_with_nothing_half_written(
    ready, approver, settings, client, django_capture_on_commit_callbacks
):
    settings.LETTER_CJK_FONT_GLOBS = ["/nonexistent/fonts/*.ttc"]
    with django_capture_on_commit_callbacks(execute=True):
        services.application_approve(
            actor=approver, application_id=ready.pk, amount_cents=150_000_00
        )
    letter = AwardLetter.objects.get(voucher__application=ready)
    assert letter.status == AwardLetter.Status.FAILED
    assert letter.attempts == settings.LETTER_MAX_ATTEMPTS
    assert "No font with Chinese glyphs" in letter.last_error
    assert not letter.pdf and not letter.sha256
    assert AuditEvent.objects.filter(action=AuditAction.LETTER_FAILED).count() == 1
    client.force_login(approver)
    page = client.get(reverse("officer:application_detail", args=[ready.pk])).content.decode()
    assert 'data-testid="letter-failed"' in page and "No font with Chinese glyphs" in page
    # The cause is fixed; an officer retries.
    settings.LETTER_CJK_FONT_GLOBS = ["/usr/share/fonts/**/*CJK*", "/usr/share/fonts/**/wqy*"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("officer:letter_retry", args=[ready.pk, letter.pk]))
    letter.refresh_from_db()
    assert letter.status == AwardLetter.Status.READY


def test_template_error_fails_the_same_way(
    ready, approver, settings, django_capture_on_commit_callbacks
):
    settings.LETTER_TEMPLATE = "pdf/no_such_template.html"
    with django_capture_on_commit_callbacks(execute=True):
        services.application_approve(
            actor=approver, application_id=ready.pk, amount_cents=150_000_00
        )
    letter = AwardLetter.objects.get(voucher__application=ready)
    assert letter.status == AwardLetter.Status.FAILED and "template" in letter.last_error
    assert (
        Voucher.objects.get(application=ready).status == Voucher.Status.ISSUED
    )  # the award stands


def test_a_correction_is_a_new_version_and_the_old_one_is_kept(
    approved, approver, django_capture_on_commit_callbacks
):
    voucher = approved.voucher
    first = AwardLetter.objects.get(voucher=voucher)
    with django_capture_on_commit_callbacks(execute=True):
        services.award_letter_reissue(
            actor=approver, voucher_id=voucher.pk, reason="The company's address was wrong."
        )
    first.refresh_from_db()
    second = AwardLetter.objects.get(voucher=voucher, version=2)
    assert first.superseded_at is not None and first.status == AwardLetter.Status.READY
    assert second.status == AwardLetter.Status.READY and second.sha256 != ""
    assert second.correction_reason == "The company's address was wrong."
    with pytest.raises(Exception):  # noqa: B017  (reviewers and applicants cannot reissue)
        services.award_letter_reissue(
            actor=approved.created_by, voucher_id=voucher.pk, reason="x" * 20
        )


def test_public_verification_page(client, approved):
    letter = AwardLetter.objects.get(voucher__application=approved)
    url = reverse("vouchers:letter_verify", args=[letter.reference])
    page = client.get(url).content.decode()
    assert letter.sha256 in page and approved.organization.legal_name in page
    with letter.pdf.open("rb") as handle:
        genuine = handle.read()
    from django.core.files.uploadedfile import SimpleUploadedFile

    match = client.post(url, {"file": SimpleUploadedFile("l.pdf", genuine)}).content.decode()
    assert 'data-testid="verify-match"' in match
    forged = client.post(
        url, {"file": SimpleUploadedFile("l.pdf", genuine + b"\n% one byte changed\n")}
    )
    assert 'data-testid="verify-mismatch"' in forged.content.decode()
    assert (
        'data-testid="verify-match"'
        in client.post(url, {"sha256": letter.sha256.upper()}).content.decode()
    )
    unknown = client.get(reverse("vouchers:letter_verify", args=["AL-NOPE-1"]))
    assert unknown.status_code == 404 and b"not genuine" in unknown.content
    api = client.get(f"/api/v1/letters/verify/{letter.reference}/", {"sha256": letter.sha256})
    assert api.json()["matches"] is True
    assert (
        client.get(f"/api/v1/letters/verify/{letter.reference}/", {"sha256": "zz"}).status_code
        == 400
    )


def test_letter_verify_link_and_qr_point_to_the_public_page(approved):
    letter = AwardLetter.objects.get(voucher__application=approved)
    assert re.search(r"/programs/verify/AL-.+-1/$", letter.snapshot["verify_url"])


def test_sweep_renders_letters_whose_task_never_ran(
    ready, approver, django_capture_on_commit_callbacks
):
    from unittest import mock

    from django.utils import timezone

    with mock.patch(
        "vouchers.tasks.award_letter_render_task.delay", side_effect=OSError("redis down")
    ):
        with django_capture_on_commit_callbacks(execute=True):
            services.application_approve(
                actor=approver, application_id=ready.pk, amount_cents=150_000_00
            )
    letter = AwardLetter.objects.get(voucher__application=ready)
    assert letter.status == AwardLetter.Status.PENDING
    AwardLetter.objects.filter(pk=letter.pk).update(
        updated_at=timezone.now() - timezone.timedelta(minutes=1)
    )
    assert services.award_letter_sweep() == 1
    letter.refresh_from_db()
    assert letter.status == AwardLetter.Status.READY


def test_applicant_and_officer_download_others_cannot(
    client, approved, applicant, other_applicant, approver
):
    letter = AwardLetter.objects.get(voucher__application=approved)
    voucher = approved.voucher
    client.force_login(applicant)
    response = client.get(reverse("applicants:letter_download", args=[voucher.pk, 1]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    client.force_login(other_applicant)
    assert (
        client.get(reverse("applicants:letter_download", args=[voucher.pk, 1])).status_code == 404
    )
    assert (
        api_as(other_applicant).get(f"/api/v1/vouchers/{voucher.pk}/letters/1/pdf/").status_code
        == 404
    )
    assert api_as(approver).get(f"/api/v1/vouchers/{voucher.pk}/letters/1/pdf/").status_code == 200
    assert letter.pk


@pytest.mark.redis
def test_letter_task_with_a_real_worker_run_twice_gives_one_letter(real_celery_worker, provider):
    """The letter travels through Redis to a real worker; queuing it again changes nothing."""
    from applicants import services as applicant_services
    from tests.conftest import COMPLETE_ANSWERS, declare_no_conflict
    from tests.factories import OrganizationFactory, ProgramFactory, UserFactory, pdf_upload
    from tests.vouchers.conftest import make_ready

    program = ProgramFactory(providers=[provider])
    founder = UserFactory()
    org = OrganizationFactory(owner=founder)
    app = applicant_services.application_create(
        actor=founder, organization_id=org.pk, program_id=program.pk
    )
    applicant_services.application_update(
        actor=founder,
        application_id=app.pk,
        values={**COMPLETE_ANSWERS, "intended_provider": provider},
    )
    applicant_services.document_add(
        actor=founder, application_id=app.pk, kind="business_licence", upload=pdf_upload()
    )
    app = applicant_services.application_submit(actor=founder, application_id=app.pk)
    approver = UserFactory(role="approver")
    make_ready(app, reviewer=UserFactory(role="reviewer"), approver=UserFactory(role="admin"))
    declare_no_conflict(approver, app)
    services.application_approve(actor=approver, application_id=app.pk, amount_cents=150_000_00)
    letter = AwardLetter.objects.get(voucher__application=app)
    assert wait_until(lambda: AwardLetter.objects.get(pk=letter.pk).status == "ready", timeout=30)
    first = AwardLetter.objects.get(pk=letter.pk)
    award_letter_render_task.delay(letter_id=letter.pk)
    award_letter_render_task.delay(letter_id=letter.pk)
    time.sleep(2)  # the worker consumes both messages; neither may change the stored letter
    again = AwardLetter.objects.get(pk=letter.pk)
    assert (again.sha256, again.pdf.name, again.rendered_at) == (
        first.sha256,
        first.pdf.name,
        first.rendered_at,
    )
    assert AwardLetter.objects.filter(voucher__application=app).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.LETTER_RENDERED).count() == 1


def test_a_redelivered_task_takes_back_its_own_claim_at_once(
    ready, approver, django_capture_on_commit_callbacks
):
    """A worker died mid-render: its task is redelivered (same id) and finishes the letter; any
    other task must leave the fresh claim alone."""
    from unittest import mock

    with mock.patch("vouchers.tasks.award_letter_render_task.delay"):
        with django_capture_on_commit_callbacks(execute=True):
            services.application_approve(
                actor=approver, application_id=ready.pk, amount_cents=150_000_00
            )
    letter = AwardLetter.objects.get(voucher__application=ready)
    from django.utils import timezone

    AwardLetter.objects.filter(pk=letter.pk).update(
        status="rendering", claim_token="task-1", claimed_at=timezone.now(), attempts=1
    )
    assert services.award_letter_render(letter_id=letter.pk, token="task-2").status == "rendering"
    done = services.award_letter_render(letter_id=letter.pk, token="task-1")
    assert done.status == "ready" and done.attempts == 2
