"""The admin site, audited: every add, change and delete made in it writes an audit event.

Every ModelAdmin registered on the site (the project's and third-party apps': users, tokens,
lockouts, periodic tasks, OTP devices...) is given AuditedAdminMixin. Admin pages that go
through a service (programs, providers) get the service's event as well; this one records that
the change was made in the admin and by whom.
"""

from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.db import models
from django.http import HttpRequest, HttpResponseRedirect

from audit.models import AuditAction
from audit.services import audit_record, changes

# Fields whose values never go into the trail: only that they changed.
SECRET_FIELDS = {"password", "key_hash", "token_hash", "key", "secret"}
_BEFORE = "_audit_admin_before"


def _snapshot(obj: models.Model) -> dict[str, Any]:
    values = {}
    for f in obj._meta.concrete_fields:
        value = f.value_from_object(obj)
        values[f.name] = "(secret)" if f.name in SECRET_FIELDS else value
    return values


def _is_auditor(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) == "auditor"


class AuditedAdminMixin:
    """Records the admin's own log (added / changed / deleted) as audit events, with the
    before and after of the changed fields, in the admin view's transaction."""

    # An auditor reads everything and changes nothing, whatever permissions an administrator
    # gave the account: the role decides, not the permission table.
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return not _is_auditor(request) and super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _is_auditor(request) and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _is_auditor(request) and super().has_delete_permission(request, obj)  # type: ignore[misc]

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is not None:
            before = getattr(request, _BEFORE, {})
            before[(obj._meta.label_lower, obj.pk)] = _snapshot(obj)
            setattr(request, _BEFORE, before)
        return obj

    def log_addition(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        entry = super().log_addition(request, obj, message)  # type: ignore[misc]
        _record(request, obj, "added", message, changes({}, _snapshot(obj)))
        return entry

    def log_change(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        entry = super().log_change(request, obj, message)  # type: ignore[misc]
        before = getattr(request, _BEFORE, {}).get((obj._meta.label_lower, obj.pk))
        # None for a list_editable save (not loaded by get_object): the message says what changed.
        diff = changes(before, _snapshot(obj)) if before is not None else {}
        _record(request, obj, "changed", message, diff)
        return entry

    def response_action(self, request: HttpRequest, queryset: Any) -> Any:
        """Bulk actions (enable or run periodic tasks...) need not log anything themselves:
        record which action ran on which objects. An action that ran redirects back to the
        list; one that shows a page first (a confirmation) has not run yet. Deleting logs its
        own deletions."""
        response = super().response_action(request, queryset)  # type: ignore[misc]
        name = request.POST.get("action", "")
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        ran = isinstance(response, HttpResponseRedirect)
        if ran and name and name != "delete_selected" and selected:
            audit_record(
                actor=request.user,
                action=AuditAction.ADMIN_CHANGE,
                data={
                    "admin": "action",
                    "action": name,
                    "model": queryset.model._meta.label_lower,
                    "objects": selected[:1000],
                    "all_matching": request.POST.get("select_across") == "1",
                },
            )
        return response

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        objects = list(queryset)
        entries = super().log_deletions(request, objects)  # type: ignore[misc]
        for obj in objects:
            _record(request, obj, "deleted", "", changes(_snapshot(obj), {}))
        return entries


def _record(
    request: HttpRequest, obj: models.Model, what: str, message: Any, diff: dict[str, Any]
) -> None:
    audit_record(
        actor=request.user,
        action=AuditAction.ADMIN_CHANGE,
        target=obj,
        data={"admin": what, "message": message, "changes": diff},
    )


class AuditedAdminSite(admin.AdminSite):
    """The default admin site (see audit.apps.AuditedAdminConfig)."""

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        base = admin_class or admin.ModelAdmin
        if not issubclass(base, AuditedAdminMixin):
            base = type(base.__name__, (AuditedAdminMixin, base), {"__module__": base.__module__})
        super().register(model_or_iterable, base, **options)
