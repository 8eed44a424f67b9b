"""Reports in the admin site: read-only (requests go through the report pages and the API, so
that they are checked and audited)."""

from django.contrib import admin

from reports.models import Report
from vouchers.admin import ReadOnlyAdmin


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "status", "requested_by", "requested_at", "finished_at"]
    list_filter = ["status", "kind"]
    search_fields = ["requested_by__email", "pdf_sha256", "csv_sha256"]
    list_select_related = ["requested_by"]
    readonly_fields = [f.name for f in Report._meta.fields]
