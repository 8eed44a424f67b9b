from django.urls import path

from disbursement import reconciliation_views as views

app_name = "reconciliation"

urlpatterns = [
    path("", views.runs, name="runs"),
    path("run/", views.run_now, name="run_now"),
    path("<int:pk>/", views.run_detail, name="run_detail"),
    path("<int:pk>/statement.csv", views.statement_download, name="statement_download"),
    path("statements/new/", views.statement_upload, name="statement_upload"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
]
