"""The provider registry in the admin site (saved through the services, so every change is
validated the same way and audited), and read-only views of the money records."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.exceptions import DomainError
from core.money import format_money
from disbursement.models import (
    ChipOrigin,
    Claim,
    LedgerEntry,
    Payout,
    Provider,
    ProviderAffiliation,
    ProviderStaff,
    ReconciliationRun,
)
from disbursement.services import providers as services
from vouchers.admin import ReadOnlyAdmin


def _is_admin(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) == "admin"


class ProviderAdminForm(forms.ModelForm):
    chip_origins = forms.MultipleChoiceField(
        choices=ChipOrigin.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Provider
        fields = list(services.PROVIDER_FIELDS)


class StaffInline(admin.TabularInline):
    model = ProviderStaff
    extra = 1
    fields = ["user"]
    raw_id_fields = ["user"]


class AffiliationInline(admin.TabularInline):
    model = ProviderAffiliation
    extra = 1
    fields = ["organization", "kind", "note", "recorded_by"]
    readonly_fields = ["recorded_by"]
    raw_id_fields = ["organization"]


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderAdminForm
    list_display = ["short_name", "legal_name", "registration_number", "region", "is_active"]
    list_filter = ["is_active", "region"]
    search_fields = ["short_name", "legal_name", "registration_number"]
    inlines = [StaffInline, AffiliationInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_admin(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_admin(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # providers with claims are history; deactivate instead

    def save_model(self, request: HttpRequest, obj: Provider, form: Any, change: bool) -> None:
        actor: Any = request.user
        if change:
            values = {f: form.cleaned_data[f] for f in form.changed_data if f in form.cleaned_data}
            provider = services.provider_update(actor=actor, provider_id=obj.pk, **values)
        else:
            provider = services.provider_create(actor=actor, **form.cleaned_data)
        obj.pk = provider.pk
        obj.refresh_from_db()

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Staff and affiliations go through their services too (one audit event each)."""
        actor: Any = request.user
        provider = form.instance
        # What the admin's change message reads; the audit trail has the real record.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for sub in formset.forms:
            if not sub.has_changed() and not sub.cleaned_data.get("DELETE"):
                continue
            data, instance = sub.cleaned_data, sub.instance
            try:
                if formset.model is ProviderStaff:
                    if data.get("DELETE") and instance.pk:
                        services.provider_staff_remove(
                            actor=actor, provider_id=provider.pk, user_id=instance.user_id
                        )
                    elif data.get("user") and not instance.pk:
                        services.provider_staff_add(
                            actor=actor, provider_id=provider.pk, user_id=data["user"].pk
                        )
                elif data.get("DELETE") and instance.pk:
                    services.provider_affiliation_remove(
                        actor=actor,
                        affiliation_id=instance.pk,
                        reason=data.get("note") or "Removed in the admin site",
                    )
                elif data.get("organization") and not instance.pk:
                    services.provider_affiliation_record(
                        actor=actor,
                        provider_id=provider.pk,
                        organization_id=data["organization"].pk,
                        kind=data.get("kind") or ProviderAffiliation.Kind.OWNERSHIP,
                        note=data.get("note") or "",
                    )
            except DomainError as exc:
                messages.error(request, exc.message)


@admin.register(Claim)
class ClaimAdmin(ReadOnlyAdmin):
    list_display = ["provider_reference", "provider", "voucher", "status", "subsidy", "created_at"]
    list_filter = ["status", "rejection_code", "provider"]
    search_fields = ["provider_reference", "invoice_number", "voucher_code_submitted"]
    list_select_related = ["provider", "voucher"]

    @admin.display(description=_("subsidy"), ordering="subsidy_cents")
    def subsidy(self, obj: Claim) -> str:
        return format_money(obj.subsidy_cents, obj.currency)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "voucher", "kind", "spent_delta_cents", "spent_after_cents", "created_at"]
    list_filter = ["kind"]
    search_fields = ["voucher__code"]
    list_select_related = ["voucher"]


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ["reference", "provider", "status", "total", "created_at"]
    list_filter = ["status"]
    search_fields = ["reference", "bank_reference"]
    list_select_related = ["provider"]

    @admin.display(description=_("total"), ordering="total_cents")
    def total(self, obj: Payout) -> str:
        return format_money(obj.total_cents, obj.currency)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "status", "discrepancy_count", "created_at", "finished_at"]
    list_filter = ["status", "kind"]
