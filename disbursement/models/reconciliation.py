"""Reconciliation runs, what they found, and the alerts officers see."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel


class ReconciliationRun(BaseModel):
    class Kind(models.TextChoices):
        LEDGER = "ledger", _("Vouchers and programs against the ledger")
        STATEMENT = "statement", _("Provider statement against accepted claims")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        CLEAN = "clean", _("No discrepancy")
        DISCREPANCIES = "discrepancies", _("Discrepancies found")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.RUNNING)
    provider = models.ForeignKey(
        "disbursement.Provider",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reconciliations",
    )
    statement_month = models.DateField(null=True, blank=True)
    statement_file = models.FileField(upload_to="statements/", blank=True)
    statement_sha256 = models.CharField(max_length=64, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    checked = models.JSONField(default=dict, help_text=_("What was compared, and how many."))
    discrepancy_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.created_at:%Y-%m-%d %H:%M} ({self.status})"


class Discrepancy(models.Model):
    class Kind(models.TextChoices):
        VOUCHER_SPENT = "voucher_spent", _("Voucher spent differs from its ledger")
        VOUCHER_CAP = "voucher_cap", _("Voucher cap differs from its ledger")
        PROGRAM_COMMITTED = "program_committed", _("Program committed differs from its vouchers")
        PROGRAM_SPENT = "program_spent", _("Program spent differs from its vouchers")
        CLAIM_LEDGER = "claim_ledger", _("Accepted claim without its ledger entry")
        STATEMENT_MATCHED = "statement_matched", _("Statement line matches an accepted claim")
        STATEMENT_MISSING = "statement_missing", _("Statement line has no accepted claim")
        STATEMENT_UNKNOWN_VOUCHER = (
            "statement_unknown_voucher",
            _("Statement names an unknown voucher"),
        )
        STATEMENT_OVER_CAP = "statement_over_cap", _("Statement amounts exceed the voucher's cap")
        STATEMENT_DUPLICATE = "statement_duplicate", _("Statement lists an invoice twice")
        STATEMENT_AMOUNT = "statement_amount", _("Statement amount differs from the accepted claim")
        CLAIM_NOT_IN_STATEMENT = (
            "claim_not_in_statement",
            _("Accepted claim missing from the statement"),
        )

    run = models.ForeignKey(
        ReconciliationRun, on_delete=models.CASCADE, related_name="discrepancies"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    subject = models.CharField(max_length=120)
    expected = models.CharField(max_length=60, blank=True)
    actual = models.CharField(max_length=60, blank=True)
    detail = models.JSONField(default=dict)
    is_problem = models.BooleanField(default=True)

    class Meta:
        ordering = ["run", "id"]
        verbose_name_plural = _("discrepancies")

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}"


class Alert(BaseModel):
    """Something officers (and, for thresholds, the startup) should look at."""

    class Kind(models.TextChoices):
        THRESHOLD = "threshold", _("Voucher use passed a threshold")
        RECONCILIATION = "reconciliation", _("Reconciliation found discrepancies")
        EXPIRED = "expired", _("Voucher expired")

    kind = models.CharField(max_length=15, choices=Kind.choices)
    dedupe_key = models.CharField(max_length=120, unique=True)
    message = models.CharField(max_length=500)
    voucher = models.ForeignKey(
        "vouchers.Voucher", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    run = models.ForeignKey(
        ReconciliationRun, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.message
