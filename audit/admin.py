from django.contrib import admin

from audit.models import AuditCheckpoint, AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: events are never edited or deleted, not even by superusers."""

    list_display = [
        "occurred_at",
        "action",
        "actor_label",
        "target_type",
        "target_id",
        "target_label",
        "ip",
    ]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_label", "target_id", "target_label", "stream", "request_id"]
    date_hierarchy = "occurred_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    list_select_related = ["actor"]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(admin.ModelAdmin):
    """Read-only, like events: a checkpoint seals history and is never edited or deleted."""

    list_display = ["seq", "sealed_at", "stream_count", "event_count", "new_heads", "hash"]
    date_hierarchy = "sealed_at"
    readonly_fields = [f.name for f in AuditCheckpoint._meta.fields]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
