"""Programs (calls for applications). Every number here is data that admins edit."""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel
from core.money import format_money
from core.regions import REGION_CODES

BPS_VALIDATORS = [MinValueValidator(0), MaxValueValidator(10_000)]
currency_validator = RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 code, e.g. CNY."))


class Program(BaseModel):
    """A call or round: budget, award range, subsidy rates, eligibility and dates."""

    class OverCapPolicy(models.TextChoices):
        CLAMP = "clamp", _("Pay up to what is left; the startup pays the rest")
        REJECT = "reject", _("Reject a claim that exceeds what is left")

    code = models.CharField(
        _("code"),
        max_length=30,
        unique=True,
        validators=[
            RegexValidator(r"^[A-Z0-9][A-Z0-9-]{1,29}$", _("Capital letters, digits and dashes."))
        ],
        help_text=_("Short reference used in application numbers, e.g. SH-2026-R1."),
    )
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    name = models.CharField(_("name (English)"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200, blank=True)
    summary = models.TextField(_("summary (English)"), max_length=2000, blank=True)
    summary_zh = models.TextField(_("summary (Chinese)"), max_length=2000, blank=True)
    region = models.CharField(_("region"), max_length=10)
    currency = models.CharField(
        _("currency"), max_length=3, default="CNY", validators=[currency_validator]
    )
    budget_cents = models.BigIntegerField(_("total budget (cents)"))
    committed_cents = models.BigIntegerField(_("committed (cents)"), default=0, editable=False)
    award_floor_cents = models.BigIntegerField(_("smallest award (cents)"), default=14_000_000)
    award_ceiling_cents = models.BigIntegerField(_("largest award (cents)"), default=28_000_000)
    rate_standard_bps = models.PositiveIntegerField(
        _("subsidy rate, standard (basis points)"), default=3000, validators=BPS_VALIDATORS
    )
    rate_domestic_bps = models.PositiveIntegerField(
        _("subsidy rate, domestic chips (basis points)"), default=5000, validators=BPS_VALIDATORS
    )
    allowed_regions = models.JSONField(_("eligible regions"), default=list, blank=True)
    max_company_age_years = models.PositiveIntegerField(
        _("maximum company age (years)"), null=True, blank=True
    )
    max_headcount = models.PositiveIntegerField(_("maximum headcount"), null=True, blank=True)
    max_annual_revenue_cents = models.BigIntegerField(
        _("maximum annual revenue (cents)"), null=True, blank=True
    )
    requires_startup = models.BooleanField(_("startups only"), default=True)
    approved_providers = models.ManyToManyField(
        "disbursement.Provider",
        blank=True,
        related_name="programs",
        verbose_name=_("approved providers"),
    )
    opens_at = models.DateTimeField(_("opens at"))
    closes_at = models.DateTimeField(_("closes at"))
    voucher_validity_days = models.PositiveIntegerField(_("voucher validity (days)"), default=365)
    over_cap_policy = models.CharField(
        _("claims above what is left"),
        max_length=10,
        choices=OverCapPolicy.choices,
        default=OverCapPolicy.CLAMP,
    )
    is_published = models.BooleanField(_("published"), default=False)
    reviews_required = models.PositiveSmallIntegerField(
        _("reviews needed before a decision"), default=1, validators=[MinValueValidator(1)]
    )
    # What the award letter says: who awards, who signs, on which terms.
    authority_name = models.CharField(
        _("awarding authority (English)"), max_length=200, default="Program Office"
    )
    authority_name_zh = models.CharField(
        _("awarding authority (Chinese)"), max_length=200, blank=True
    )
    authority_address = models.CharField(_("authority address"), max_length=300, blank=True)
    signatory_name = models.CharField(_("signed by"), max_length=150, blank=True)
    signatory_title = models.CharField(_("signatory's title (English)"), max_length=150, blank=True)
    signatory_title_zh = models.CharField(
        _("signatory's title (Chinese)"), max_length=150, blank=True
    )
    terms = models.TextField(_("terms of the award (English)"), max_length=10_000, blank=True)
    terms_zh = models.TextField(_("terms of the award (Chinese)"), max_length=10_000, blank=True)

    class Meta:
        ordering = ["-opens_at", "code"]
        verbose_name = _("program")
        verbose_name_plural = _("programs")
        constraints = [
            models.CheckConstraint(condition=Q(budget_cents__gte=0), name="program_budget_nonneg"),
            models.CheckConstraint(
                condition=Q(committed_cents__gte=0), name="program_committed_nonneg"
            ),
            models.CheckConstraint(
                condition=Q(committed_cents__lte=F("budget_cents")),
                name="program_committed_within_budget",
            ),
            models.CheckConstraint(
                condition=Q(award_floor_cents__gt=0), name="program_floor_positive"
            ),
            models.CheckConstraint(
                condition=Q(award_floor_cents__lte=F("award_ceiling_cents")),
                name="program_floor_le_ceiling",
            ),
            models.CheckConstraint(
                condition=Q(rate_standard_bps__lte=10_000) & Q(rate_domestic_bps__lte=10_000),
                name="program_rates_within_100pct",
            ),
            models.CheckConstraint(
                condition=Q(closes_at__gt=F("opens_at")), name="program_closes_after_opens"
            ),
            models.CheckConstraint(
                condition=Q(voucher_validity_days__gte=1), name="program_validity_positive"
            ),
            models.CheckConstraint(
                condition=Q(over_cap_policy__in=["clamp", "reject"]),
                name="program_over_cap_policy_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            errors["closes_at"] = _("The closing time must be after the opening time.")
        if (
            self.award_floor_cents is not None
            and self.award_ceiling_cents is not None
            and self.award_floor_cents > self.award_ceiling_cents
        ):
            errors["award_ceiling_cents"] = _(
                "The largest award cannot be smaller than the smallest."
            )
        if self.budget_cents is not None and self.budget_cents < (self.committed_cents or 0):
            errors["budget_cents"] = _("The budget cannot be less than what is already committed.")
        if self.region and self.region not in REGION_CODES:
            errors["region"] = _("Unknown region code.")
        unknown = [r for r in (self.allowed_regions or []) if r not in REGION_CODES]
        if not isinstance(self.allowed_regions, list) or unknown:
            errors["allowed_regions"] = _("Unknown region codes: %(codes)s") % {
                "codes": ", ".join(map(str, unknown))
            }
        if errors:
            raise ValidationError(errors)

    # Derived from the row's own fields only.
    @property
    def display_name(self) -> str:
        if (get_language() or "").startswith("zh") and self.name_zh:
            return self.name_zh
        return self.name

    @property
    def display_summary(self) -> str:
        if (get_language() or "").startswith("zh") and self.summary_zh:
            return self.summary_zh
        return self.summary

    def terms_snapshot(self) -> dict[str, Any]:
        """The terms a voucher keeps for life: later edits of the program never reach it."""
        return {
            "program_code": self.code,
            "program_name": self.name,
            "program_name_zh": self.name_zh,
            "currency": self.currency,
            "rate_standard_bps": self.rate_standard_bps,
            "rate_domestic_bps": self.rate_domestic_bps,
            "over_cap_policy": self.over_cap_policy,
            "voucher_validity_days": self.voucher_validity_days,
            "award_floor_cents": self.award_floor_cents,
            "award_ceiling_cents": self.award_ceiling_cents,
            "authority_name": self.authority_name,
            "authority_name_zh": self.authority_name_zh,
            "authority_address": self.authority_address,
            "signatory_name": self.signatory_name,
            "signatory_title": self.signatory_title,
            "signatory_title_zh": self.signatory_title_zh,
            "terms": self.terms,
            "terms_zh": self.terms_zh,
        }

    @property
    def remaining_cents(self) -> int:
        return self.budget_cents - self.committed_cents

    @property
    def award_range_display(self) -> str:
        floor = format_money(self.award_floor_cents, self.currency)
        return f"{floor} – {format_money(self.award_ceiling_cents)}"

    def is_open_at(self, moment: datetime | None = None) -> bool:
        moment = moment or timezone.now()
        return self.is_published and self.opens_at <= moment < self.closes_at

    @property
    def is_open(self) -> bool:
        return self.is_open_at()

    @property
    def has_not_opened(self) -> bool:
        return timezone.now() < self.opens_at


class RubricCriterion(BaseModel):
    """One scored question of a program's review rubric, with its weight."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="criteria")
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("criterion (English)"), max_length=200)
    name_zh = models.CharField(_("criterion (Chinese)"), max_length=200, blank=True)
    guidance = models.TextField(_("guidance for reviewers"), max_length=2000, blank=True)
    weight = models.PositiveSmallIntegerField(
        _("weight"), default=1, validators=[MinValueValidator(1)]
    )
    max_score = models.PositiveSmallIntegerField(
        _("highest score"), default=5, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["program", "position", "id"]
        verbose_name = _("rubric criterion")
        verbose_name_plural = _("rubric criteria")
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="criterion_code_unique"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="criterion_weight_positive"),
            models.CheckConstraint(
                condition=Q(max_score__gte=1), name="criterion_max_score_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program.code}: {self.name}"

    @property
    def display_name(self) -> str:
        if (get_language() or "").startswith("zh") and self.name_zh:
            return self.name_zh
        return self.name
