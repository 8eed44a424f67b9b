from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.forms import MoneyField
from core.money import format_money
from core.regions import REGIONS
from vouchers import services
from vouchers.models import (
    AwardLetter,
    ConflictDeclaration,
    Decision,
    Program,
    Review,
    RubricCriterion,
    ScreeningResult,
    Voucher,
)
from vouchers.services.programs import PROGRAM_FIELDS


class ProgramAdminForm(forms.ModelForm):
    """Amounts typed in currency units (150000.00), stored as cents."""

    budget_cents = MoneyField(label=_("Total budget"), allow_zero=True)
    award_floor_cents = MoneyField(label=_("Smallest award"))
    award_ceiling_cents = MoneyField(label=_("Largest award"))
    max_annual_revenue_cents = MoneyField(
        label=_("Maximum annual revenue"), required=False, allow_zero=True
    )
    region = forms.ChoiceField(choices=REGIONS)
    allowed_regions = forms.MultipleChoiceField(
        choices=REGIONS, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Program
        fields = [
            "code",
            "slug",
            "name",
            "name_zh",
            "summary",
            "summary_zh",
            "is_published",
            "currency",
            "budget_cents",
            "award_floor_cents",
            "award_ceiling_cents",
            "rate_standard_bps",
            "rate_domestic_bps",
            "over_cap_policy",
            "voucher_validity_days",
            "region",
            "allowed_regions",
            "max_company_age_years",
            "max_headcount",
            "max_annual_revenue_cents",
            "requires_startup",
            "approved_providers",
            "opens_at",
            "closes_at",
        ]


class RubricCriterionInline(admin.TabularInline):
    model = RubricCriterion
    extra = 1
    fields = ["position", "code", "name", "name_zh", "weight", "max_score", "guidance"]


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    form = ProgramAdminForm
    list_display = [
        "code",
        "name",
        "region",
        "currency",
        "budget",
        "committed",
        "opens_at",
        "closes_at",
        "is_published",
    ]
    list_filter = ["is_published", "region", "currency"]
    search_fields = ["code", "name", "name_zh"]
    prepopulated_fields = {"slug": ["code"]}
    filter_horizontal = ["approved_providers"]
    readonly_fields = ["committed_display"]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "code",
                    "slug",
                    "name",
                    "name_zh",
                    "summary",
                    "summary_zh",
                    "is_published",
                )
            },
        ),
        (
            _("Money"),
            {
                "fields": (
                    "currency",
                    "budget_cents",
                    "committed_display",
                    "award_floor_cents",
                    "award_ceiling_cents",
                    "rate_standard_bps",
                    "rate_domestic_bps",
                    "over_cap_policy",
                    "voucher_validity_days",
                )
            },
        ),
        (
            _("Eligibility"),
            {
                "fields": (
                    "region",
                    "allowed_regions",
                    "max_company_age_years",
                    "max_headcount",
                    "max_annual_revenue_cents",
                    "requires_startup",
                    "approved_providers",
                )
            },
        ),
        (_("Dates"), {"fields": ("opens_at", "closes_at")}),
    )

    @admin.display(description=_("budget"), ordering="budget_cents")
    def budget(self, obj: Program) -> str:
        return format_money(obj.budget_cents, obj.currency)

    @admin.display(description=_("committed"), ordering="committed_cents")
    def committed(self, obj: Program) -> str:
        return format_money(obj.committed_cents, obj.currency)

    @admin.display(description=_("committed"))
    def committed_display(self, obj: Program) -> str:
        return format_money(obj.committed_cents, obj.currency) if obj.pk else "—"

    inlines = [RubricCriterionInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return getattr(request.user, "role", None) == "admin"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return getattr(request.user, "role", None) == "admin"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # programs with applications are history; unpublish instead

    def save_model(self, request: HttpRequest, obj: Program, form: Any, change: bool) -> None:
        """Through the same services as the API: the same validation and audit trail."""
        fields = [f for f in PROGRAM_FIELDS if f in form.cleaned_data]
        actor = request.user
        if change:
            values = {f: form.cleaned_data[f] for f in fields if f in form.changed_data}
            program = services.program_update(actor=actor, program_id=obj.pk, **values)  # type: ignore[arg-type]
        else:
            values = {f: form.cleaned_data[f] for f in fields}
            program = services.program_create(actor=actor, **values)  # type: ignore[arg-type]
        obj.pk = program.pk
        obj.refresh_from_db()


class ReadOnlyAdmin(admin.ModelAdmin):
    """History: visible to staff, never edited through the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Voucher)
class VoucherAdmin(ReadOnlyAdmin):
    list_display = ["code", "organization", "program", "status", "cap", "spent", "valid_until"]
    list_filter = ["status", "program"]
    search_fields = ["code", "organization__legal_name", "application__reference"]
    list_select_related = ["organization", "program"]

    @admin.display(description=_("cap"), ordering="cap_cents")
    def cap(self, obj: Voucher) -> str:
        return format_money(obj.cap_cents, obj.currency)

    @admin.display(description=_("spent"), ordering="spent_cents")
    def spent(self, obj: Voucher) -> str:
        return format_money(obj.spent_cents, obj.currency)


@admin.register(AwardLetter)
class AwardLetterAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "voucher",
        "version",
        "language",
        "status",
        "rendered_at",
        "superseded_at",
    ]
    list_filter = ["status", "language"]
    search_fields = ["reference", "sha256", "voucher__code"]


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["application", "outcome", "amount", "decided_by", "created_at"]
    list_filter = ["outcome"]
    search_fields = ["application__reference"]
    list_select_related = ["application", "decided_by"]

    @admin.display(description=_("amount"), ordering="amount_cents")
    def amount(self, obj: Decision) -> str:
        return format_money(obj.amount_cents, obj.currency) if obj.amount_cents else "—"


@admin.register(ScreeningResult)
class ScreeningResultAdmin(ReadOnlyAdmin):
    list_display = ["application", "version", "rule", "passed", "overridden_by", "overridden_at"]
    list_filter = ["rule", "passed"]
    search_fields = ["application__reference"]


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = [
        "application",
        "version",
        "reviewer",
        "weighted_score_bps",
        "recommendation",
        "created_at",
    ]
    list_filter = ["recommendation"]
    search_fields = ["application__reference", "reviewer__email"]


@admin.register(ConflictDeclaration)
class ConflictDeclarationAdmin(ReadOnlyAdmin):
    list_display = ["application", "officer", "has_conflict", "created_at"]
    list_filter = ["has_conflict"]
    search_fields = ["application__reference", "officer__email"]
