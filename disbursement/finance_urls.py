from django.urls import path

from disbursement import finance_views as views

app_name = "finance"

urlpatterns = [
    path("", views.payout_list, name="payout_list"),
    path("prepare/", views.payout_prepare, name="payout_prepare"),
    path(
        "prepare/<int:provider_id>/",
        views.payout_prepare_provider,
        name="payout_prepare_provider",
    ),
    path("payouts/<int:pk>/", views.payout_detail, name="payout_detail"),
    path("payouts/<int:pk>/approve/", views.payout_approve, name="payout_approve"),
    path("payouts/<int:pk>/paid/", views.payout_mark_paid, name="payout_mark_paid"),
    path("payouts/<int:pk>/export.csv", views.payout_export, name="payout_export"),
]
