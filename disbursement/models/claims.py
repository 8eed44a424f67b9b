"""Claims: a provider asks for the subsidy on one invoice, line by line."""

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel


class RejectionCode(models.TextChoices):
    UNKNOWN_CODE = "unknown_voucher", _("No voucher has this code")
    BAD_CHECK_CHARACTER = "bad_check_character", _("The code is mistyped (check character)")
    NOT_ACTIVE = "voucher_not_active", _("The voucher is not active yet (award not accepted)")
    EXPIRED = "voucher_expired", _("The voucher has expired")
    SUSPENDED = "voucher_suspended", _("The voucher is suspended")
    EXHAUSTED = "voucher_exhausted", _("Nothing is left on the voucher")
    REVOKED = "voucher_revoked", _("The voucher was revoked")
    PROVIDER_NOT_APPROVED = (
        "provider_not_approved",
        _("The provider is not approved for the program"),
    )
    PROVIDER_AFFILIATED = (
        "provider_affiliated",
        _("The provider is affiliated with the voucher holder"),
    )
    DUPLICATE_INVOICE = "duplicate_invoice", _("This invoice was already claimed")
    PERIOD_OUTSIDE_VALIDITY = (
        "period_outside_validity",
        _("The service period is outside the voucher's validity"),
    )
    CURRENCY_MISMATCH = "currency_mismatch", _("The invoice currency is not the voucher's")
    MALFORMED_LINES = "malformed_lines", _("The usage lines do not add up or are invalid")
    OVER_CAP = (
        "over_cap",
        _("The subsidy exceeds what is left and the program refuses partial claims"),
    )


class Claim(BaseModel):
    """One invoice claimed against one voucher. Accepted claims moved money through the ledger;
    rejected ones are kept with their reason, so a retry with the same reference gets the same
    answer (the provider's reference is the idempotency key)."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        REVERSED = "reversed", _("Reversed")

    provider = models.ForeignKey(
        "disbursement.Provider", on_delete=models.PROTECT, related_name="claims"
    )
    provider_reference = models.CharField(_("provider's reference"), max_length=100)
    request_sha256 = models.CharField(max_length=64)
    voucher = models.ForeignKey(
        "vouchers.Voucher", null=True, blank=True, on_delete=models.PROTECT, related_name="claims"
    )
    voucher_code_submitted = models.CharField(max_length=40)
    invoice_number = models.CharField(_("invoice number"), max_length=100)
    invoice_total_cents = models.BigIntegerField(_("invoice total (cents)"))
    currency = models.CharField(max_length=3)
    service_period_start = models.DateField()
    service_period_end = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices)
    rejection_code = models.CharField(max_length=30, choices=RejectionCode.choices, blank=True)
    rejection_message = models.CharField(max_length=500, blank=True)
    eligible_cents = models.BigIntegerField(default=0, help_text=_("Sum of the usage lines."))
    subsidy_cents = models.BigIntegerField(default=0, help_text=_("Charged to the voucher."))
    billed_to_startup_cents = models.BigIntegerField(default=0)
    calculation = models.JSONField(default=dict, help_text=_("How every number was made."))
    payout = models.ForeignKey(
        "disbursement.Payout",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claims",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversal_reason = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_reference"], name="claim_reference_unique"
            ),
            # The same invoice can be claimed once, whichever voucher or program.
            models.UniqueConstraint(
                fields=["provider", "invoice_number"],
                condition=Q(status__in=["accepted", "reversed"]),
                name="claim_invoice_once",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["accepted", "rejected", "reversed"]),
                name="claim_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(subsidy_cents__gte=0)
                & Q(billed_to_startup_cents__gte=0)
                & Q(eligible_cents__gte=0)
                & Q(invoice_total_cents__gte=0),
                name="claim_amounts_nonneg",
            ),
            models.CheckConstraint(
                condition=Q(subsidy_cents__lte=F("eligible_cents")),
                name="claim_subsidy_within_eligible",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_code=""),
                name="claim_rejection_has_code",
            ),
            models.CheckConstraint(
                condition=Q(service_period_end__gte=F("service_period_start")),
                name="claim_period_order",
            ),
        ]
        indexes = [
            models.Index(fields=["voucher", "-created_at"]),
            models.Index(fields=["provider", "status", "payout"]),
            # Reconciliation reads only these columns of the claims that moved money: an
            # index-only scan instead of the whole (wide) table.
            models.Index(
                fields=["voucher", "status"],
                include=["id", "subsidy_cents"],
                condition=Q(status__in=["accepted", "reversed"]),
                name="claim_reconcile_cover",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}:{self.provider_reference}"


class ClaimLine(models.Model):
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=200, blank=True)
    chip_origin = models.CharField(max_length=10)
    gpu_hours = models.DecimalField(max_digits=14, decimal_places=3)
    amount_cents = models.BigIntegerField()
    rate_bps = models.PositiveIntegerField()
    subsidy_cents = models.BigIntegerField()

    class Meta:
        ordering = ["claim", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["claim", "position"], name="claim_line_position_unique"
            ),
            models.CheckConstraint(
                condition=Q(amount_cents__gt=0) & Q(subsidy_cents__gte=0) & Q(gpu_hours__gt=0),
                name="claim_line_positive",
            ),
            models.CheckConstraint(
                condition=Q(chip_origin__in=["domestic", "foreign"]), name="claim_line_chip_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id}#{self.position}"


class LedgerEntry(models.Model):
    """One movement of money on a voucher. Never updated, never deleted (a trigger refuses it on
    PostgreSQL); corrections are new entries. The voucher's spent is the sum of spent_delta, its
    cap the sum of cap_delta, the program's committed the sum of committed_delta."""

    class Kind(models.TextChoices):
        ISSUE = "issue", _("Voucher issued")
        CHARGE = "charge", _("Claim charged")
        REVERSAL = "reversal", _("Claim reversed")
        EXPIRY_RELEASE = "expiry_release", _("Unspent amount released at expiry")
        CLAWBACK = "clawback", _("Amount clawed back")

    voucher = models.ForeignKey("vouchers.Voucher", on_delete=models.PROTECT, related_name="ledger")
    program = models.ForeignKey("vouchers.Program", on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=15, choices=Kind.choices)
    spent_delta_cents = models.BigIntegerField(default=0)
    cap_delta_cents = models.BigIntegerField(default=0)
    committed_delta_cents = models.BigIntegerField(default=0)
    spent_after_cents = models.BigIntegerField()
    cap_after_cents = models.BigIntegerField()
    claim = models.ForeignKey(
        Claim, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=1000, blank=True, validators=[MaxLengthValidator(1000)])
    idempotency_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["voucher", "id"]
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["issue", "charge", "reversal", "expiry_release", "clawback"]),
                name="ledger_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(spent_after_cents__gte=0)
                & Q(spent_after_cents__lte=F("cap_after_cents")),
                name="ledger_after_within_cap",
            ),
            # The sign of each movement is fixed by its kind.
            models.CheckConstraint(
                condition=(
                    Q(kind="issue")
                    & Q(spent_delta_cents=0)
                    & Q(cap_delta_cents__gt=0)
                    & Q(committed_delta_cents=F("cap_delta_cents"))
                )
                | (
                    Q(kind="charge")
                    & Q(spent_delta_cents__gt=0)
                    & Q(cap_delta_cents=0)
                    & Q(committed_delta_cents=0)
                )
                | (
                    Q(kind="reversal")
                    & Q(spent_delta_cents__lt=0)
                    & Q(cap_delta_cents=0)
                    & Q(committed_delta_cents=0)
                )
                | (
                    Q(kind="expiry_release")
                    & Q(spent_delta_cents=0)
                    & Q(cap_delta_cents__lte=0)
                    & Q(committed_delta_cents=F("cap_delta_cents"))
                )
                | (
                    Q(kind="clawback")
                    & Q(spent_delta_cents__lt=0)
                    & Q(cap_delta_cents=F("spent_delta_cents"))
                    & Q(committed_delta_cents=F("spent_delta_cents"))
                ),
                name="ledger_deltas_match_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.voucher_id} {self.kind} {self.spent_delta_cents}"
