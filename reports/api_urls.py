from django.urls import path

from reports import apis

urlpatterns = [
    path("reports/", apis.ReportListCreateApi.as_view(), name="reports"),
    path("reports/<int:report_id>/", apis.ReportDetailApi.as_view(), name="report"),
    path("reports/<int:report_id>/retry/", apis.ReportRetryApi.as_view(), name="report-retry"),
    path("reports/<int:report_id>/pdf/", apis.ReportPdfApi.as_view(), name="report-pdf"),
    path("reports/<int:report_id>/csv/", apis.ReportCsvApi.as_view(), name="report-csv"),
]
