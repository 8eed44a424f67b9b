"""Payouts: finance pays providers the subsidy of their accepted claims, with four eyes."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel


class Payout(BaseModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Prepared")
        APPROVED = "approved", _("Approved for payment")
        PAID = "paid", _("Paid")

    TRANSITIONS: dict[str, set[str]] = {
        Status.DRAFT: {Status.APPROVED},
        Status.APPROVED: {Status.PAID},
        Status.PAID: set(),
    }

    reference = models.CharField(max_length=40, unique=True)
    provider = models.ForeignKey(
        "disbursement.Provider", on_delete=models.PROTECT, related_name="payouts"
    )
    currency = models.CharField(max_length=3)
    total_cents = models.BigIntegerField()
    claim_count = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    bank_reference = models.CharField(_("bank reference"), max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "approved", "paid"]), name="payout_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(total_cents__gt=0) & Q(claim_count__gt=0), name="payout_not_empty"
            ),
            # Four eyes: whoever prepared the payout cannot approve it.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("created_by")),
                name="payout_four_eyes",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | ~Q(bank_reference=""),
                name="payout_paid_has_bank_reference",
            ),
        ]

    def __str__(self) -> str:
        return self.reference
