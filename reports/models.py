"""Reports for auditors: requested by someone, rendered once by a Celery worker, kept with the
SHA-256 of each file (the PDF/A and its CSV)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel


class Report(BaseModel):
    """One requested report. `parameters` holds the validated request (which program, voucher,
    run or date range); the files are written once, when the report is DONE, and never again."""

    class Kind(models.TextChoices):
        PROGRAM_SUMMARY = "program_summary", _("Program summary")
        VOUCHER_STATEMENT = "voucher_statement", _("Voucher statement")
        VOUCHER_REGISTER = "voucher_register", _("Voucher register")
        RECONCILIATION = "reconciliation", _("Reconciliation report")
        AUDIT_EXTRACT = "audit_extract", _("Audit extract")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Rendering")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    # RUNNING -> RUNNING is a worker taking over a crashed render (same task redelivered, or a
    # stale claim); FAILED -> QUEUED is a retry after the cause was fixed.
    TRANSITIONS: dict[str, set[str]] = {
        Status.QUEUED: {Status.RUNNING, Status.FAILED},
        Status.RUNNING: {Status.RUNNING, Status.DONE, Status.FAILED, Status.QUEUED},
        Status.FAILED: {Status.QUEUED},
        Status.DONE: set(),
    }

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    # What the report is about, when it is about one thing (for lists, visibility, admin).
    program = models.ForeignKey(
        "vouchers.Program", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    voucher = models.ForeignKey(
        "vouchers.Voucher", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reconciliation_run = models.ForeignKey(
        "disbursement.ReconciliationRun",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reports"
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    # Who is rendering it (the Celery task id) and since when: a redelivered task takes its own
    # claim back at once; anyone else waits until the claim is stale.
    claim_token = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    pdf = models.FileField(upload_to="reports/", max_length=200, blank=True)
    csv = models.FileField(upload_to="reports/", max_length=200, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    csv_sha256 = models.CharField(max_length=64, blank=True)
    pdf_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    csv_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    # Pages, rows and the totals (in cents) the PDF prints, for the page and the API.
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "program_summary",
                        "voucher_statement",
                        "voucher_register",
                        "reconciliation",
                        "audit_extract",
                    ]
                ),
                name="report_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]),
                name="report_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(progress_done__lte=F("progress_total")),
                name="report_progress_within_total",
            ),
            models.CheckConstraint(
                condition=~Q(status="done")
                | (~Q(pdf="") & ~Q(csv="") & ~Q(pdf_sha256="") & ~Q(csv_sha256="")),
                name="report_done_has_files_and_hashes",
            ),
        ]
        indexes = [
            models.Index(fields=["requested_by", "-requested_at"]),
            # The sweep looks only at reports still to be rendered.
            models.Index(
                fields=["status", "updated_at"],
                condition=Q(status__in=["queued", "running"]),
                name="report_to_render",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.kind}"

    @property
    def reference(self) -> str:
        return f"RPT-{self.pk or 0:06d}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(99, self.progress_done * 100 // self.progress_total)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
