from django.urls import path

from disbursement import payout_apis

urlpatterns = [
    path("payouts/", payout_apis.PayoutListCreateApi.as_view(), name="payouts"),
    path("payouts/<int:payout_id>/", payout_apis.PayoutDetailApi.as_view(), name="payout"),
    path(
        "payouts/<int:payout_id>/approve/",
        payout_apis.PayoutApproveApi.as_view(),
        name="payout-approve",
    ),
    path("payouts/<int:payout_id>/paid/", payout_apis.PayoutPaidApi.as_view(), name="payout-paid"),
    path(
        "payouts/<int:payout_id>/export.csv",
        payout_apis.PayoutExportApi.as_view(),
        name="payout-export",
    ),
]
