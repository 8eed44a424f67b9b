"""Award letters: requested in the approval's transaction, rendered once by a Celery worker.

Rendering claims the row in a short transaction, renders outside any transaction, then records
the file and its SHA-256 in another short transaction. Running the task twice, or a worker
dying mid-way, still ends with exactly one stored letter per version.
"""

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Max, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_record
from core.dispatch import dispatch_after_commit
from core.exceptions import ConflictError, DomainError, NotAllowedError
from core.money import cents_to_str, format_money
from core.numwords import cents_to_chinese, cents_to_english
from notifications.services import notification_enqueue
from vouchers.documents import LetterRenderError, render_award_letter
from vouchers.models import AwardLetter, Decision, Voucher
from vouchers.tasks import award_letter_render_task

logger = logging.getLogger(__name__)
LETTER_OFFICER_ROLES = frozenset({User.Role.APPROVER, User.Role.ADMIN})


def _letter_language(voucher: Voucher) -> str:
    """The language of the person who submitted the application (their letter, their words)."""
    latest = voucher.application.versions.select_related("submitted_by").order_by("-number").first()
    language = latest.submitted_by.preferred_language if latest else settings.LANGUAGE_CODE
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def letter_snapshot(voucher: Voucher, decision: Decision, reference: str) -> dict:
    """Everything the letter prints, frozen at request time (later edits never reach it)."""
    app, org, terms = voucher.application, voucher.organization, voucher.terms
    return {
        "reference": reference,
        "application_reference": app.reference,
        "project_title": app.title,
        "voucher_code": voucher.code,
        "organization": {
            "legal_name": org.legal_name,
            "registration_scheme": org.registration_scheme,
            "registration_number": org.registration_number,
            "address": org.address,
        },
        "currency": voucher.currency,
        "amount_cents": voucher.cap_cents,
        "amount": format_money(voucher.cap_cents, voucher.currency),
        "amount_decimal": cents_to_str(voucher.cap_cents),
        "amount_words_en": cents_to_english(voucher.cap_cents, voucher.currency),
        "amount_words_zh": cents_to_chinese(voucher.cap_cents, voucher.currency),
        "requested": format_money(app.requested_amount_cents or 0, voucher.currency),
        "valid_from": timezone.localtime(voucher.valid_from).date().isoformat(),
        "valid_until": timezone.localtime(voucher.valid_until).date().isoformat(),
        "rate_standard_bps": voucher.rate_standard_bps,
        "rate_domestic_bps": voucher.rate_domestic_bps,
        "over_cap_policy": voucher.over_cap_policy,
        "terms": terms,
        "decided_on": timezone.localtime(decision.created_at).date().isoformat(),
        "decided_by": decision.decided_by.full_name,
        "verify_url": settings.SITE_URL + reverse("vouchers:letter_verify", args=[reference]),
    }


@transaction.atomic(savepoint=False)
def award_letter_request(
    *, voucher: Voucher, actor: User, decision: Decision, correction_reason: str = ""
) -> AwardLetter:
    """Queue a new version of the voucher's letter (inside the caller's transaction)."""
    version = (voucher.letters.aggregate(n=Max("version"))["n"] or 0) + 1
    reference = f"AL-{voucher.application.reference}-{version}"
    letter = AwardLetter.objects.create(
        voucher=voucher,
        version=version,
        reference=reference,
        language=_letter_language(voucher),
        template_version=settings.LETTER_TEMPLATE_VERSION,
        snapshot=letter_snapshot(voucher, decision, reference),
        requested_by=actor,
        correction_reason=correction_reason[:1000],
    )
    audit_record(
        actor=actor,
        action=AuditAction.LETTER_REQUESTED,
        target=voucher,
        data={
            "letter": reference,
            "version": version,
            "language": letter.language,
            "correction_reason": correction_reason,
        },
    )
    dispatch_after_commit(award_letter_render_task, letter_id=letter.pk)
    return letter


def _claim(letter_id: int, token: str) -> AwardLetter | None:
    """Mark the letter RENDERING; None when there is nothing to do.

    One conditional UPDATE: its row lock keeps two claimers (a redelivered task, the sweep)
    apart, and only one of them sees a row updated.
    """
    stale = timezone.now() - timedelta(seconds=settings.LETTER_STALE_SECONDS)
    rendering = Q(status=AwardLetter.Status.RENDERING) & (
        Q(claimed_at__isnull=True)
        | Q(claimed_at__lt=stale)
        | (Q(claim_token=token) & ~Q(claim_token=""))
    )
    claimed = AwardLetter.objects.filter(
        Q(pk=letter_id) & (Q(status=AwardLetter.Status.PENDING) | rendering)
    ).update(
        status=AwardLetter.Status.RENDERING,
        claimed_at=timezone.now(),
        claim_token=token[:64],
        attempts=F("attempts") + 1,
        updated_at=timezone.now(),
    )
    if not claimed:
        return None
    return AwardLetter.objects.get(pk=letter_id)


def award_letter_render(*, letter_id: int, token: str = "") -> AwardLetter | None:
    """Render and store one letter. A ready or failed letter is left alone (idempotent).

    Raises LetterRenderError after recording the failure, so the task can retry; after
    LETTER_MAX_ATTEMPTS the letter is FAILED and shown to officers, with nothing half-written.
    """
    letter = _claim(letter_id, token)
    if letter is None:
        return AwardLetter.objects.filter(pk=letter_id).first()
    try:
        pdf = render_award_letter(letter.snapshot, letter.language)
    except LetterRenderError as exc:
        _record_failure(letter, exc)
        raise
    name = f"letters/{letter.reference}.pdf"
    storage = AwardLetter._meta.get_field("pdf").storage
    digest = hashlib.sha256(pdf).hexdigest()
    with transaction.atomic():
        # The row lock makes "still to be stored?" and the file write one step: a render that
        # outlived its claim (the sweep or a redelivered task took over) must find the letter
        # READY and leave the stored file alone, not delete and rewrite it. It costs the write
        # of one file under a lock that only another renderer of this letter waits for.
        letter = (
            AwardLetter.objects.select_for_update(of=("self",))
            .select_related("voucher__application__program")
            .get(pk=letter_id)
        )
        if letter.status != AwardLetter.Status.RENDERING:
            return letter  # someone else finished it
        if storage.exists(name):  # an earlier attempt died after writing: same letter, same name
            storage.delete(name)
        stored = storage.save(name, ContentFile(pdf))
        letter.status = AwardLetter.Status.READY
        letter.pdf.name = stored
        letter.sha256 = digest
        letter.size_bytes = len(pdf)
        letter.rendered_at = timezone.now()
        letter.last_error = ""
        letter.save(
            update_fields=[
                "status",
                "pdf",
                "sha256",
                "size_bytes",
                "rendered_at",
                "last_error",
                "updated_at",
            ]
        )
        audit_record(
            actor=None,
            action=AuditAction.LETTER_RENDERED,
            target=letter.voucher,
            stream=f"vouchers.voucher:{letter.voucher_id}",
            data={
                "letter": letter.reference,
                "sha256": digest,
                "bytes": len(pdf),
                "template_version": letter.template_version,
            },
        )
        _notify_ready(letter)
    return letter


def _record_failure(letter: AwardLetter, exc: Exception) -> None:
    final = letter.attempts >= settings.LETTER_MAX_ATTEMPTS
    with transaction.atomic():
        AwardLetter.objects.filter(pk=letter.pk).update(
            status=AwardLetter.Status.FAILED if final else AwardLetter.Status.PENDING,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            updated_at=timezone.now(),
        )
        audit_record(  # every attempt: the letter went back to pending, or failed for good
            actor=None,
            action=AuditAction.LETTER_FAILED if final else AuditAction.LETTER_RETRYING,
            target=letter.voucher,
            stream=f"vouchers.voucher:{letter.voucher_id}",
            data={
                "letter": letter.reference,
                "attempts": letter.attempts,
                "error": str(exc)[:500],
            },
        )
    logger.warning("award letter %s attempt %s failed: %s", letter.reference, letter.attempts, exc)


def _notify_ready(letter: AwardLetter) -> None:
    application = letter.voucher.application
    members = User.objects.filter(
        memberships__organization_id=application.organization_id, is_active=True
    )
    for member in members:
        notification_enqueue(
            kind="letter_ready",
            recipient=member,
            recipient_email=member.email,
            language=member.preferred_language,
            template="letter_ready",
            dedupe_key=f"letter_ready:{letter.pk}:{member.pk}",
            context={
                "user_name": member.full_name,
                "reference": application.reference,
                "letter_reference": letter.reference,
                "program": application.program.name,
                "link": settings.SITE_URL
                + reverse("applicants:voucher_detail", args=[letter.voucher_id]),
            },
        )


def _ensure_letter_officer(actor: User) -> None:
    if actor.role not in LETTER_OFFICER_ROLES:
        raise NotAllowedError(_("Only approvers and administrators manage award letters."))


@transaction.atomic
def award_letter_retry(*, actor: User, letter_id: int) -> AwardLetter:
    """Put a FAILED letter back in the queue after the cause (font, template) was fixed."""
    _ensure_letter_officer(actor)
    letter = AwardLetter.objects.select_for_update().get(pk=letter_id)
    if letter.status != AwardLetter.Status.FAILED:
        raise ConflictError(_("Only a failed letter can be retried."), code="invalid_status")
    letter.status = AwardLetter.Status.PENDING
    letter.attempts = 0
    letter.save(update_fields=["status", "attempts", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.LETTER_REQUESTED,
        target=letter.voucher,
        data={"letter": letter.reference, "retry": True},
    )
    dispatch_after_commit(award_letter_render_task, letter_id=letter.pk)
    return letter


@transaction.atomic
def award_letter_reissue(*, actor: User, voucher_id: int, reason: str) -> AwardLetter:
    """Issue a corrected letter as a new version; the previous one is kept, marked superseded."""
    _ensure_letter_officer(actor)
    voucher = (
        Voucher.objects.select_for_update(of=("self",))
        .select_related("application__decision")
        .get(pk=voucher_id)
    )
    reason = reason.strip()
    if len(reason) < 10:
        message = _("Say what the correction is (at least 10 characters).")
        raise DomainError(message, code="reason_required", fields={"reason": [message]})
    now = timezone.now()
    for old in voucher.letters.filter(superseded_at__isnull=True):
        old.superseded_at = now
        old.save(update_fields=["superseded_at", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.LETTER_SUPERSEDED,
            target=voucher,
            data={"letter": old.reference, "reason": reason},
        )
    return award_letter_request(
        voucher=voucher,
        actor=actor,
        decision=voucher.application.decision,
        correction_reason=reason,
    )


def award_letter_sweep(*, limit: int = 100) -> int:
    """Render letters whose task never ran (broker down) or whose worker died mid-render."""
    now = timezone.now()
    due = list(
        AwardLetter.objects.filter(
            Q(status=AwardLetter.Status.PENDING, updated_at__lt=now - timedelta(seconds=10))
            | Q(
                status=AwardLetter.Status.RENDERING,
                claimed_at__lt=now - timedelta(seconds=settings.LETTER_STALE_SECONDS),
            )
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for letter_id in due:
        try:
            award_letter_render(letter_id=letter_id)
        except LetterRenderError:
            continue  # recorded on the letter; the next sweep tries again until it is FAILED
    return len(due)
