from typing import Any

from django.contrib import admin
from django.db.models import Count
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from applicants.models import (
    Application,
    ApplicationVersion,
    Document,
    Invitation,
    Membership,
    Organization,
)
from core.money import format_money


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = [
        "legal_name",
        "registration_number",
        "region",
        "incorporated_on",
        "headcount",
        "is_credit_blacklisted",
        "application_count",
        "created_at",
    ]
    list_filter = ["region", "registration_scheme", "is_credit_blacklisted"]
    search_fields = ["legal_name", "registration_number"]
    readonly_fields = [
        "registration_scheme",
        "registration_number",
        "created_by",
        "created_at",
        "updated_at",
    ]
    autocomplete_fields = ["parent"]
    inlines = [MembershipInline]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).annotate(_applications=Count("applications"))

    @admin.display(description=_("applications"), ordering="_applications")
    def application_count(self, obj: Organization) -> int:
        return obj._applications  # type: ignore[attr-defined]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # organizations register themselves (the USCC check lives in the service)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a record the program keeps (its applications and trail point at it)

    # Saves are audited by the admin site itself (audit/admin_site.py: admin.change, before/after).


class VersionInline(admin.TabularInline):
    model = ApplicationVersion
    extra = 0
    fields = ["number", "receipt_number", "submitted_at", "submitted_by", "content_sha256"]
    readonly_fields = ["number", "receipt_number", "submitted_at", "submitted_by", "content_sha256"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DocumentInline(admin.TabularInline):
    model = Document
    extra = 0
    fields = ["kind", "original_name", "content_type", "size_bytes", "sha256", "removed_at"]
    readonly_fields = [
        "kind",
        "original_name",
        "content_type",
        "size_bytes",
        "sha256",
        "removed_at",
    ]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    """Read-only. Applications change only through the services (portal, officer pages, API)."""

    list_display = [
        "reference",
        "organization",
        "program",
        "status",
        "version",
        "amount",
        "submitted_at",
        "updated_at",
    ]
    list_filter = ["status", "program", "chip_origin"]
    search_fields = [
        "reference",
        "title",
        "organization__legal_name",
        "organization__registration_number",
    ]
    list_select_related = ["organization", "program"]
    date_hierarchy = "submitted_at"
    inlines = [VersionInline, DocumentInline]
    show_full_result_count = False  # no COUNT(*) over 100,000 rows on every page

    @admin.display(description=_("requested"), ordering="requested_amount_cents")
    def amount(self, obj: Application) -> str:
        return (
            format_money(obj.requested_amount_cents, obj.currency)
            if obj.requested_amount_cents
            else "—"
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Application._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # view only: a submitted application is locked for staff too

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "organization",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
    ]
    search_fields = ["email", "organization__legal_name"]
    readonly_fields = [
        "organization",
        "email",
        "role",
        "token_hash",
        "invited_by",
        "expires_at",
        "accepted_at",
        "accepted_by",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
