"""Reports: requested (checked, audited, queued after commit), rendered once by a Celery worker,
retried when they failed, downloaded (audited).

Rendering claims the report in one conditional UPDATE, renders outside any transaction (with
progress written as it goes), stores both files, then records the hashes in a short transaction.
Running the task twice, or a worker dying mid-way, still ends with one stored set of files.
"""

import hashlib
import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_record
from core.dispatch import dispatch_after_commit
from core.exceptions import ConflictError, DomainError
from reports.documents import Rendered, ReportMeta, render_report
from reports.models import Report
from reports.params import report_params_clean
from reports.pdf import ReportRenderError
from reports.policies import report_require_request
from reports.tasks import report_render_task

logger = logging.getLogger(__name__)
S = Report.Status


REPORT_REQUESTED = AuditAction.REPORT_REQUESTED
REPORT_RENDERED = AuditAction.REPORT_RENDERED
REPORT_FAILED = AuditAction.REPORT_FAILED
REPORT_DOWNLOADED = AuditAction.FILE_DOWNLOADED


def stale_seconds() -> int:
    return int(getattr(settings, "REPORT_STALE_SECONDS", 600))


def report_request(*, actor: User, kind: str, params: dict[str, Any] | None = None) -> Report:
    """Check and queue a report; the worker renders it after this commits.

    A role that may not ask for this kind is refused (403) and the refusal recorded; bad
    parameters raise DomainError naming the field. The same request repeated while the first
    is still queued or rendering returns that report (a double click makes one report).
    """
    report_require_request(viewer=actor, kind=kind)  # records a refusal outside our transaction
    clean = report_params_clean(actor=actor, kind=kind, params=params or {})
    with transaction.atomic():
        pending = Report.objects.filter(
            requested_by=actor,
            kind=kind,
            parameters=clean.parameters,
            language=clean.language,
            status__in=[S.QUEUED, S.RUNNING],
        ).first()
        if pending is not None:
            return pending
        report = Report(
            kind=kind,
            parameters=clean.parameters,
            language=clean.language,
            program=clean.program,
            voucher=clean.voucher,
            reconciliation_run=clean.run,
            requested_by=actor,
        )
        report.full_clean()
        report.save()
        audit_record(
            actor=actor,
            action=REPORT_REQUESTED,
            target=report,
            data={
                "event": "report.requested",
                "kind": kind,
                "parameters": clean.parameters,
                "language": clean.language,
            },
        )
        dispatch_after_commit(report_render_task, report_id=report.pk)
    return report


def _claim(report_id: int, token: str) -> Report | None:
    """Mark the report RUNNING; None when there is nothing to do (done, failed, or another
    worker's fresh claim). One conditional UPDATE: its row lock keeps two claimers apart."""
    now = timezone.now()
    stale = now - timedelta(seconds=stale_seconds())
    running = Q(status=S.RUNNING) & (
        Q(claimed_at__isnull=True)
        | Q(claimed_at__lt=stale)
        | (Q(claim_token=token) & ~Q(claim_token=""))
    )
    claimed = Report.objects.filter(Q(pk=report_id) & (Q(status=S.QUEUED) | running)).update(
        status=S.RUNNING,
        claimed_at=now,
        claim_token=token[:64],
        started_at=now,
        attempts=F("attempts") + 1,
        progress_done=0,
        progress_total=0,
        error="",
        updated_at=now,
    )
    if not claimed:
        return None
    return Report.objects.select_related("requested_by").get(pk=report_id)


class _Progress:
    """Writes progress to the report row (committed at once, so the page sees it), at most a few
    times a second; each write also refreshes the claim, so a long render is not taken over."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        total = max(int(total), 0)
        done = max(0, min(int(done), total))
        if done < total and now - self.last < 0.25:
            return
        self.last = now
        Report.objects.filter(
            pk=self.report.pk, status=S.RUNNING, claim_token=self.report.claim_token
        ).update(
            progress_done=done,
            progress_total=total,
            claimed_at=timezone.now(),
            updated_at=timezone.now(),
        )


def _sha256(handle: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


def _store(report: Report, rendered: Rendered) -> dict[str, Any]:
    """Save both files under this attempt's folder; their names, SHA-256s and sizes."""
    storage = Report._meta.get_field("pdf").storage
    folder = f"reports/{report.pk}/{report.attempts}"
    out: dict[str, Any] = {}
    if isinstance(rendered.pdf, Path):
        with rendered.pdf.open("rb") as handle:
            out["pdf_sha256"], out["pdf_bytes"] = _sha256(handle)
            handle.seek(0)
            out["pdf"] = storage.save(f"{folder}/{rendered.stem}.pdf", File(handle))
    else:
        out["pdf_sha256"] = hashlib.sha256(rendered.pdf).hexdigest()
        out["pdf_bytes"] = len(rendered.pdf)
        out["pdf"] = storage.save(f"{folder}/{rendered.stem}.pdf", ContentFile(rendered.pdf))
    out["csv_sha256"] = hashlib.sha256(rendered.csv).hexdigest()
    out["csv_bytes"] = len(rendered.csv)
    out["csv"] = storage.save(f"{folder}/{rendered.stem}.csv", ContentFile(rendered.csv))
    return out


def _anchor() -> dict[str, Any]:
    """Seal a checkpoint of the audit trail for the report to print (the hourly seal would be
    up to an hour old). If another seal happens at this very moment, print that one."""
    from audit.models import AuditCheckpoint
    from audit.services import audit_checkpoint_seal
    from reports import datasets

    try:
        checkpoint = audit_checkpoint_seal(actor=None)
    except ConflictError:  # the other seal has just committed
        checkpoint = AuditCheckpoint.objects.latest("seq")
    return {
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "sealed_at": datasets.as_local(checkpoint.sealed_at),
        "events": checkpoint.event_count,
        "streams": checkpoint.stream_count,
    }


def report_render(*, report_id: int, token: str = "") -> Report | None:
    """Render and store one report. A done or failed report is left alone (idempotent); a
    report whose worker died is taken over by the same task redelivered (same token) at once,
    by anyone else once its claim is stale. Any error marks the report FAILED with a message
    for the requester; nothing is raised, so no task retries a broken template forever."""
    report = _claim(report_id, token)
    if report is None:
        return Report.objects.filter(pk=report_id).first()
    try:
        meta = ReportMeta(
            reference=report.reference,
            kind=report.kind,
            requested_by=report.requested_by.get_full_name(),
            language=report.language,
            parameters=report.parameters,
            anchor=_anchor(),
        )
        rendered = render_report(meta, progress=_Progress(report))
        files = _store(report, rendered)
    except Exception as exc:  # every failure becomes a readable state, never a lost report
        return _record_failure(report, exc)
    with transaction.atomic():
        # Lock against a stale-claim takeover finishing at the same moment: one of us wins.
        current = Report.objects.select_for_update().get(pk=report_id)
        if current.status != S.RUNNING or current.claim_token != report.claim_token:
            _record_discarded(current, attempt=report.attempts, files=files)
            return current
        for name, value in files.items():
            setattr(current, name, value)
        current.status = S.DONE
        current.finished_at = timezone.now()
        current.progress_total = max(current.progress_total, 1)
        current.progress_done = current.progress_total
        current.summary = {
            "stem": rendered.stem,
            "pages": rendered.pages,
            "rows": rendered.rows,
            "totals": rendered.totals,
            "counts": rendered.counts,
        }
        current.full_clean()
        current.save()
        audit_record(
            actor=None,
            action=REPORT_RENDERED,
            target=current,
            data={
                "event": "report.rendered",
                "kind": current.kind,
                "pdf_sha256": current.pdf_sha256,
                "csv_sha256": current.csv_sha256,
                "pdf_bytes": current.pdf_bytes,
                "csv_bytes": current.csv_bytes,
                "pages": rendered.pages,
                "totals": rendered.totals,
                "attempt": current.attempts,
            },
        )
    return current


def _record_discarded(report: Report, *, attempt: int, files: dict[str, Any]) -> None:
    """Our claim was taken over (it went stale) and the other renderer's files stand: remove
    ours (this attempt's own folder) and say so in the trail, since this attempt changed the
    report's row (its claim)."""
    storage = Report._meta.get_field("pdf").storage
    for name in (files["pdf"], files["csv"]):
        storage.delete(name)
    audit_record(
        actor=None,
        action=REPORT_FAILED,
        target=report,
        data={
            "event": "report.render_discarded",
            "kind": report.kind,
            "attempt": attempt,
            "deleted_files": [files["pdf"], files["csv"]],
        },
    )


def _readable(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, ReportRenderError):
        return _("The PDF could not be laid out: %(detail)s") % {"detail": str(exc)[:500]}
    return _(
        "The report could not be produced (%(kind)s: %(detail)s). Try again; if it fails "
        "again, the administrators will find the details in the worker's log."
    ) % {"kind": type(exc).__name__, "detail": str(exc)[:300]}


def _record_failure(report: Report, exc: Exception) -> Report | None:
    if not isinstance(exc, DomainError | ReportRenderError):
        logger.exception("report %s (%s) failed", report.pk, report.kind)
    message = _readable(exc)
    with transaction.atomic():
        current = Report.objects.select_for_update().get(pk=report.pk)
        if current.status != S.RUNNING or current.claim_token != report.claim_token:
            return current
        current.status = S.FAILED
        current.error = message
        current.finished_at = timezone.now()
        current.save(update_fields=["status", "error", "finished_at", "updated_at"])
        audit_record(
            actor=None,
            action=REPORT_FAILED,
            target=current,
            data={
                "event": "report.failed",
                "kind": current.kind,
                "error": f"{type(exc).__name__}: {exc}"[:500],
                "attempt": current.attempts,
            },
        )
    return current


def report_is_retryable(report: Report) -> bool:
    """Failed; or rendering with a stale claim (its worker is gone); or queued for over a minute
    with no worker taking it (its message was lost)."""
    now = timezone.now()
    if report.status == S.FAILED:
        return True
    if report.status == S.RUNNING:
        stale = now - timedelta(seconds=stale_seconds())
        return report.claimed_at is None or report.claimed_at < stale
    return report.status == S.QUEUED and report.updated_at < now - timedelta(seconds=60)


@transaction.atomic
def report_retry(*, actor: User, report_id: int) -> Report:
    """Queue a failed report again; or one whose worker is gone (rendering with a stale
    claim, or queued for over a minute with no worker taking it). A done report stays done."""
    report = Report.objects.select_for_update().get(pk=report_id)  # serialise double clicks
    if report.status == S.DONE:
        raise ConflictError(_("This report is ready; there is nothing to retry."), code="done")
    if not report_is_retryable(report):
        raise ConflictError(
            _("This report is %(status)s; wait for the worker.")
            % {"status": report.get_status_display().lower()},
            code="still_running",
        )
    before = report.status
    report.status = S.QUEUED
    report.error = ""
    report.claim_token = ""
    report.claimed_at = None
    report.progress_done = report.progress_total = 0
    report.save(
        update_fields=[
            "status",
            "error",
            "claim_token",
            "claimed_at",
            "progress_done",
            "progress_total",
            "updated_at",
        ]
    )
    audit_record(
        actor=actor,
        action=REPORT_REQUESTED,
        target=report,
        data={
            "event": "report.retried",
            "kind": report.kind,
            "status": {"before": before, "after": report.status},
        },
    )
    dispatch_after_commit(report_render_task, report_id=report.pk)
    return report


@transaction.atomic
def report_download(*, actor: User, report: Report, fmt: str) -> tuple[str, IO[bytes], str, str]:
    """Open a done report's PDF or CSV for `actor`, recording the download with the file's
    SHA-256: (file name, open file, content type, sha256)."""
    if fmt not in ("pdf", "csv"):
        raise DomainError(_("Download the PDF or the CSV."), code="invalid_format")
    report = Report.objects.get(pk=report.pk)
    if report.status != S.DONE:
        raise ConflictError(
            _("This report is not ready yet (%(status)s).")
            % {"status": report.get_status_display().lower()},
            code="not_ready",
        )
    field = report.pdf if fmt == "pdf" else report.csv
    sha256 = report.pdf_sha256 if fmt == "pdf" else report.csv_sha256
    handle = field.open("rb")
    audit_record(
        actor=actor,
        action=REPORT_DOWNLOADED,
        target=report,
        data={
            "event": "report.downloaded",
            "kind": report.kind,
            "format": fmt,
            "sha256": sha256,
            "bytes": report.pdf_bytes if fmt == "pdf" else report.csv_bytes,
        },
    )
    stem = report.summary.get("stem") or report.reference
    content_type = "application/pdf" if fmt == "pdf" else "text/csv; charset=utf-8"
    return f"{stem}.{fmt}", handle, content_type, sha256


def report_sweep(*, limit: int = 50) -> int:
    """Queue again reports whose task never ran (broker down at request time) or whose worker
    died; the claim decides which of several deliveries renders. Returns how many."""
    now = timezone.now()
    due = list(
        Report.objects.filter(
            Q(status=S.QUEUED, updated_at__lt=now - timedelta(seconds=60))
            | Q(status=S.RUNNING, claimed_at__lt=now - timedelta(seconds=stale_seconds()))
        )
        .order_by("requested_at")
        .values_list("pk", flat=True)[:limit]
    )
    for report_id in due:
        try:
            report_render_task.delay(report_id=report_id)
        except Exception:  # broker still down: the next sweep tries again
            logger.warning("could not queue report %s", report_id, exc_info=True)
            break
    return len(due)
