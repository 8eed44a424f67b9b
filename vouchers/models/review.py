"""From submission to decision: screening results, conflict declarations, reviews, decisions."""

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel


class ScreeningRule(models.TextChoices):
    REGION = "region", _("Registered in an eligible region")
    COMPANY_AGE = "company_age", _("Company age")
    SME_SIZE = "sme_size", _("Small or medium-sized enterprise")
    CREDIT_BLACKLIST = "credit_blacklist", _("Not on a credit blacklist")
    ONE_OPEN_APPLICATION = "one_open_application", _("One open application per program")
    PRIOR_AWARD = "prior_award", _("No earlier award in this program")
    PROVIDER_APPROVED = "provider_approved", _("Provider approved for the program")
    PROVIDER_AFFILIATION = "provider_affiliation", _("Not affiliated with the provider")
    AMOUNT_RANGE = "amount_range", _("Amount within the program's range")


class ScreeningResult(BaseModel):
    """The outcome of one eligibility rule for one submitted version.

    `parameter` is the program's setting the rule used; `observed` is what it found. A failed
    rule blocks the application until an officer overrides it with a written justification.
    """

    application = models.ForeignKey(
        "applicants.Application", on_delete=models.CASCADE, related_name="screening_results"
    )
    version = models.PositiveIntegerField()
    rule = models.CharField(max_length=30, choices=ScreeningRule.choices)
    passed = models.BooleanField()
    parameter = models.JSONField(default=dict, blank=True)
    observed = models.JSONField(default=dict, blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    overridden_at = models.DateTimeField(null=True, blank=True)
    override_justification = models.TextField(
        blank=True, max_length=5000, validators=[MaxLengthValidator(5000)]
    )

    class Meta:
        ordering = ["application", "version", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "version", "rule"], name="screening_result_unique"
            ),
            models.CheckConstraint(
                condition=Q(overridden_at__isnull=True)
                | (Q(passed=False) & ~Q(override_justification="")),
                name="screening_override_needs_failed_rule_and_justification",
            ),
        ]

    def __str__(self) -> str:
        outcome = "pass" if self.passed else "fail"
        return f"{self.application_id} v{self.version} {self.rule}: {outcome}"

    @property
    def is_blocking(self) -> bool:
        return not self.passed and self.overridden_at is None


class ConflictDeclaration(BaseModel):
    """An officer's statement about a conflict of interest with one application.

    Nothing the applicant wrote is shown to a reviewer or approver before they declare; a
    declared conflict removes them from the application for good (it cannot be withdrawn).
    """

    application = models.ForeignKey(
        "applicants.Application", on_delete=models.CASCADE, related_name="conflict_declarations"
    )
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="conflict_declarations"
    )
    has_conflict = models.BooleanField()
    note = models.CharField(max_length=1000, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["application", "officer"], name="conflict_declaration_unique"
            )
        ]

    def __str__(self) -> str:
        answer = "conflict" if self.has_conflict else "none"
        return f"{self.officer} on {self.application_id}: {answer}"


class ReviewAssignment(BaseModel):
    application = models.ForeignKey(
        "applicants.Application", on_delete=models.CASCADE, related_name="review_assignments"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_assignments"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    removal_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "reviewer"],
                condition=Q(removed_at__isnull=True),
                name="review_assignment_active_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} reviews {self.application_id}"


class Recommendation(models.TextChoices):
    FUND = "fund", _("Fund as requested")
    FUND_REDUCED = "fund_reduced", _("Fund a smaller amount")
    DO_NOT_FUND = "do_not_fund", _("Do not fund")


class Review(BaseModel):
    """A reviewer's scores against the program's rubric, for one submitted version."""

    application = models.ForeignKey(
        "applicants.Application", on_delete=models.CASCADE, related_name="reviews"
    )
    version = models.PositiveIntegerField()
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews"
    )
    scores = models.JSONField(help_text=_("{criterion code: score}"))
    weighted_score_bps = models.PositiveIntegerField(
        help_text=_("0–10,000: the weighted rubric score")
    )
    recommendation = models.CharField(max_length=20, choices=Recommendation.choices)
    recommended_amount_cents = models.BigIntegerField(null=True, blank=True)
    comments = models.TextField(max_length=10_000, validators=[MaxLengthValidator(10_000)])

    class Meta:
        ordering = ["application", "version", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "version", "reviewer"], name="review_unique"
            ),
            models.CheckConstraint(
                condition=Q(weighted_score_bps__lte=10_000), name="review_score_within_range"
            ),
            models.CheckConstraint(
                condition=Q(recommended_amount_cents__isnull=True)
                | Q(recommended_amount_cents__gt=0),
                name="review_amount_positive",
            ),
            models.CheckConstraint(
                condition=Q(recommendation__in=["fund", "fund_reduced", "do_not_fund"]),
                name="review_recommendation_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"review of {self.application_id} v{self.version} by {self.reviewer}"


class Decision(BaseModel):
    """The final decision on an application: one per application, never changed."""

    class Outcome(models.TextChoices):
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    application = models.OneToOneField(
        "applicants.Application", on_delete=models.PROTECT, related_name="decision"
    )
    version = models.PositiveIntegerField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    amount_cents = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    reasons = models.TextField(
        _("reasons the applicant can read"),
        max_length=10_000,
        blank=True,
        validators=[MaxLengthValidator(10_000)],
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(outcome="approved") & Q(amount_cents__gt=0))
                | (Q(outcome="rejected") & Q(amount_cents__isnull=True)),
                name="decision_amount_matches_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.outcome}"
