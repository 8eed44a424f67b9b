from django.urls import path

from disbursement import claim_apis

urlpatterns = [
    path("claims/", claim_apis.ClaimListCreateApi.as_view(), name="claims"),
    path("claims/<int:claim_id>/", claim_apis.ClaimDetailApi.as_view(), name="claim"),
    path(
        "claims/<int:claim_id>/reverse/", claim_apis.ClaimReverseApi.as_view(), name="claim-reverse"
    ),
    path(
        "vouchers/<int:voucher_id>/ledger/",
        claim_apis.VoucherLedgerApi.as_view(),
        name="voucher-ledger",
    ),
    path(
        "vouchers/<int:voucher_id>/clawback/",
        claim_apis.VoucherClawbackApi.as_view(),
        name="voucher-clawback",
    ),
    path(
        "vouchers/<int:voucher_id>/suspend/",
        claim_apis.VoucherSuspendApi.as_view(),
        name="voucher-suspend",
    ),
    path(
        "vouchers/<int:voucher_id>/reinstate/",
        claim_apis.VoucherReinstateApi.as_view(),
        name="voucher-reinstate",
    ),
]
