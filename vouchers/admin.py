from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from audit.models import AuditAction
from audit.services import audit_record, changes
from core.forms import MoneyField
from core.money import format_money
from core.regions import REGIONS
from vouchers.models import Program


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

    def save_model(self, request: HttpRequest, obj: Program, form: Any, change: bool) -> None:
        before = {f: str(form.initial.get(f)) for f in form.changed_data}
        super().save_model(request, obj, form, change)
        after = {f: str(form.cleaned_data.get(f)) for f in form.changed_data}
        audit_record(
            actor=request.user,
            action=AuditAction.ADMIN_CHANGE,
            target=obj,
            data={"created": not change, "changes": changes(before, after)},
        )
