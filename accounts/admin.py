from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.forms import SecondFactorResetForm
from accounts.models import ApiToken, User
from accounts.services import otp_device_reset
from core.exceptions import DomainError


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = [
        "email",
        "full_name",
        "role",
        "email_verified_at",
        "is_active",
        "is_staff",
        "date_joined",
    ]
    list_filter = ["role", "is_active", "is_staff", "preferred_language"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["last_login", "date_joined", "email_verified_at"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("full_name", "preferred_language", "email_verified_at")}),
        (
            _("Access"),
            {
                "fields": (
                    "role",
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    actions = ["reset_second_factor"]

    @admin.action(description=_("Reset the second factor (lost or replaced phone)"))
    def reset_second_factor(
        self, request: HttpRequest, queryset: QuerySet[User]
    ) -> HttpResponse | None:
        """Ask for a reason, then remove the selected people's authenticator apps (audited)."""
        form = SecondFactorResetForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = 0
            for user in queryset:
                try:
                    otp_device_reset(
                        actor=request.user,  # type: ignore[arg-type]  # the admin is a User
                        user_id=user.pk,
                        reason=form.cleaned_data["reason"],
                    )
                except DomainError as exc:
                    self.message_user(request, f"{user.email}: {exc.message}", messages.ERROR)
                else:
                    done += 1
            if done:
                self.message_user(
                    request,
                    _t(
                        "Second factor reset for %(count)d person(s). They set up their app "
                        "again at their next login."
                    )
                    % {"count": done},
                    messages.SUCCESS,
                )
            return None
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": _t("Reset the second factor"),
            "form": form,
            "users": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/accounts/user/reset_second_factor.html", context)

    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "role", "password1", "password2"),
            },
        ),
    )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "user",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__email"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "key_hash",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False  # tokens are created by their owner, so the value is shown only to them


# django-otp's own admin shows a device's secret as a QR code: an administrator could copy a
# colleague's second factor. Devices are listed here read-only; a lost one is removed with the
# "Reset the second factor" action on users, which is audited and ends the person's sessions.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "confirmed", "created_at", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__email"]
    fields = ["user", "name", "confirmed", "created_at", "last_used_at"]
    readonly_fields = ["user", "name", "confirmed", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
