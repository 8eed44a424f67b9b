"""Vouchers and their award letters."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel


class Voucher(BaseModel):
    """An award: a capped amount of subsidy a startup spends at approved providers.

    The rates, policy and terms are copied from the program when the voucher is issued, so
    editing the program later never changes a voucher already issued.
    """

    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued, waiting for acceptance")
        ACTIVE = "active", _("Active")
        EXHAUSTED = "exhausted", _("Fully used")
        EXPIRED = "expired", _("Expired")
        SUSPENDED = "suspended", _("Suspended")
        REVOKED = "revoked", _("Revoked")

    TRANSITIONS: dict[str, set[str]] = {
        Status.ISSUED: {Status.ACTIVE, Status.REVOKED, Status.EXPIRED},
        Status.ACTIVE: {Status.EXHAUSTED, Status.EXPIRED, Status.SUSPENDED, Status.REVOKED},
        Status.SUSPENDED: {Status.ACTIVE, Status.REVOKED, Status.EXPIRED},
        Status.EXHAUSTED: {Status.ACTIVE, Status.EXPIRED},  # a reversal can give money back
        Status.EXPIRED: set(),
        Status.REVOKED: set(),
    }

    code = models.CharField(_("code"), max_length=24, unique=True)
    application = models.OneToOneField(
        "applicants.Application", on_delete=models.PROTECT, related_name="voucher"
    )
    program = models.ForeignKey(
        "vouchers.Program", on_delete=models.PROTECT, related_name="vouchers"
    )
    organization = models.ForeignKey(
        "applicants.Organization", on_delete=models.PROTECT, related_name="vouchers"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ISSUED
    )
    currency = models.CharField(max_length=3)
    cap_cents = models.BigIntegerField(_("cap (cents)"))
    spent_cents = models.BigIntegerField(_("spent (cents)"), default=0)
    rate_standard_bps = models.PositiveIntegerField()
    rate_domestic_bps = models.PositiveIntegerField()
    over_cap_policy = models.CharField(max_length=10)
    terms = models.JSONField(help_text=_("The program's terms when the voucher was issued."))
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["issued", "active", "exhausted", "expired", "suspended", "revoked"]
                ),
                name="voucher_status_valid",
            ),
            # Issued with a positive cap (the issue entry's CHECK, the approval's floor); a
            # release can take it to 0: an unused voucher expiring, everything clawed back.
            models.CheckConstraint(condition=Q(cap_cents__gte=0), name="voucher_cap_nonneg"),
            models.CheckConstraint(condition=Q(spent_cents__gte=0), name="voucher_spent_nonneg"),
            models.CheckConstraint(
                condition=Q(spent_cents__lte=F("cap_cents")), name="voucher_spent_within_cap"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__gt=F("valid_from")), name="voucher_validity_order"
            ),
            models.CheckConstraint(
                condition=Q(rate_standard_bps__lte=10_000) & Q(rate_domestic_bps__lte=10_000),
                name="voucher_rates_within_100pct",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["program", "status"]),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def remaining_cents(self) -> int:
        return self.cap_cents - self.spent_cents


class AwardLetter(BaseModel):
    """One rendered version of a voucher's award letter.

    Rendered once by a Celery task from `snapshot` (the award as decided, frozen); stored with
    its SHA-256 and never rendered again. A correction is a new version; the old one is kept and
    marked superseded, and the public verification page says so.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be rendered")
        RENDERING = "rendering", _("Rendering")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Rendering failed")

    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="letters")
    version = models.PositiveIntegerField()
    reference = models.CharField(_("letter reference"), max_length=60, unique=True)
    language = models.CharField(max_length=10)
    template_version = models.CharField(max_length=20)
    snapshot = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    pdf = models.FileField(upload_to="letters/", max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Who is rendering it: the Celery task id, so a task redelivered after its worker died can
    # take its own claim back at once instead of waiting for the claim to go stale.
    claim_token = models.CharField(max_length=64, blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    correction_reason = models.CharField(max_length=1000, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["voucher", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["voucher", "version"], name="award_letter_version_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "rendering", "ready", "failed"]),
                name="award_letter_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="ready") | (~Q(sha256="") & ~Q(pdf="")),
                name="award_letter_ready_has_file_and_hash",
            ),
        ]
        indexes = [
            # The sweep looks only at letters still to be rendered.
            models.Index(
                fields=["status", "updated_at"],
                condition=Q(status__in=["pending", "rendering"]),
                name="award_letter_to_render",
            )
        ]

    def __str__(self) -> str:
        return self.reference
