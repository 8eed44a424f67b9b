from django.urls import path

from disbursement import reconciliation_apis as apis

urlpatterns = [
    path("reconciliations/", apis.ReconciliationListCreateApi.as_view(), name="reconciliations"),
    path(
        "reconciliations/<int:run_id>/",
        apis.ReconciliationDetailApi.as_view(),
        name="reconciliation",
    ),
    path(
        "providers/<int:provider_id>/statements/",
        apis.StatementUploadApi.as_view(),
        name="provider-statements",
    ),
    path("alerts/", apis.AlertListApi.as_view(), name="alerts"),
    path(
        "alerts/<int:alert_id>/acknowledge/",
        apis.AlertAcknowledgeApi.as_view(),
        name="alert-acknowledge",
    ),
]
