"""/api/v1/: one line per operation path."""

from django.urls import include, path

from accounts import apis as accounts_apis
from applicants import apis as applicants_apis
from audit import apis as audit_apis
from vouchers import apis as vouchers_apis
from vouchers import review_apis, voucher_apis

urlpatterns = [
    path("auth/register/", accounts_apis.RegisterApi.as_view(), name="auth-register"),
    path("auth/token/", accounts_apis.TokenCreateApi.as_view(), name="auth-token-create"),
    path("auth/tokens/", accounts_apis.TokenListApi.as_view(), name="auth-tokens"),
    path("auth/tokens/<int:token_id>/", accounts_apis.TokenRevokeApi.as_view(), name="auth-token"),
    path("me/", accounts_apis.MeApi.as_view(), name="me"),
    path("programs/", vouchers_apis.ProgramListApi.as_view(), name="programs"),
    path("programs/<int:program_id>/", vouchers_apis.ProgramDetailApi.as_view(), name="program"),
    path(
        "programs/<int:program_id>/criteria/",
        vouchers_apis.ProgramCriteriaApi.as_view(),
        name="program-criteria",
    ),
    path(
        "organizations/", applicants_apis.OrganizationListCreateApi.as_view(), name="organizations"
    ),
    path(
        "organizations/<int:organization_id>/",
        applicants_apis.OrganizationDetailApi.as_view(),
        name="organization",
    ),
    path(
        "organizations/<int:organization_id>/members/",
        applicants_apis.OrganizationMembersApi.as_view(),
        name="organization-members",
    ),
    path(
        "organizations/<int:organization_id>/invitations/",
        applicants_apis.OrganizationInviteApi.as_view(),
        name="organization-invitations",
    ),
    path(
        "invitations/accept/",
        applicants_apis.InvitationAcceptApi.as_view(),
        name="invitation-accept",
    ),
    path("applications/", applicants_apis.ApplicationListCreateApi.as_view(), name="applications"),
    path(
        "applications/<int:application_id>/",
        applicants_apis.ApplicationDetailApi.as_view(),
        name="application",
    ),
    path(
        "applications/<int:application_id>/documents/",
        applicants_apis.ApplicationDocumentsApi.as_view(),
        name="application-documents",
    ),
    path(
        "applications/<int:application_id>/documents/<int:document_id>/",
        applicants_apis.ApplicationDocumentApi.as_view(),
        name="application-document",
    ),
    path(
        "applications/<int:application_id>/submit/",
        applicants_apis.ApplicationSubmitApi.as_view(),
        name="application-submit",
    ),
    path(
        "applications/<int:application_id>/withdraw/",
        applicants_apis.ApplicationWithdrawApi.as_view(),
        name="application-withdraw",
    ),
    path(
        "applications/<int:application_id>/return/",
        applicants_apis.ApplicationReturnApi.as_view(),
        name="application-return",
    ),
    path(
        "applications/<int:application_id>/versions/",
        applicants_apis.ApplicationVersionsApi.as_view(),
        name="application-versions",
    ),
    path(
        "applications/<int:application_id>/versions/<int:number>/diff/",
        applicants_apis.ApplicationVersionDiffApi.as_view(),
        name="application-version-diff",
    ),
    path(
        "applications/<int:application_id>/conflict-declaration/",
        review_apis.ConflictDeclareApi.as_view(),
        name="application-conflict",
    ),
    path(
        "applications/<int:application_id>/screening/",
        review_apis.ScreeningListApi.as_view(),
        name="application-screening",
    ),
    path(
        "applications/<int:application_id>/screening/<int:result_id>/override/",
        review_apis.ScreeningOverrideApi.as_view(),
        name="application-screening-override",
    ),
    path(
        "applications/<int:application_id>/assignments/",
        review_apis.AssignmentListCreateApi.as_view(),
        name="application-assignments",
    ),
    path(
        "applications/<int:application_id>/assignments/<int:assignment_id>/remove/",
        review_apis.AssignmentRemoveApi.as_view(),
        name="application-assignment-remove",
    ),
    path(
        "applications/<int:application_id>/reviews/",
        review_apis.ReviewListCreateApi.as_view(),
        name="application-reviews",
    ),
    path(
        "applications/<int:application_id>/approve/",
        review_apis.ApproveApi.as_view(),
        name="application-approve",
    ),
    path(
        "applications/<int:application_id>/reject/",
        review_apis.RejectApi.as_view(),
        name="application-reject",
    ),
    path(
        "applications/<int:application_id>/decision/",
        review_apis.DecisionApi.as_view(),
        name="application-decision",
    ),
    path("vouchers/", voucher_apis.VoucherListApi.as_view(), name="vouchers"),
    path("vouchers/lookup/", voucher_apis.VoucherLookupApi.as_view(), name="voucher-lookup"),
    path("vouchers/<int:voucher_id>/", voucher_apis.VoucherDetailApi.as_view(), name="voucher"),
    path(
        "vouchers/<int:voucher_id>/accept/",
        voucher_apis.VoucherAcceptApi.as_view(),
        name="voucher-accept",
    ),
    path(
        "vouchers/<int:voucher_id>/letters/",
        voucher_apis.LetterListApi.as_view(),
        name="voucher-letters",
    ),
    path(
        "vouchers/<int:voucher_id>/letters/<int:version>/pdf/",
        voucher_apis.LetterDownloadApi.as_view(),
        name="voucher-letter-pdf",
    ),
    path(
        "letters/<int:letter_id>/retry/", voucher_apis.LetterRetryApi.as_view(), name="letter-retry"
    ),
    path(
        "letters/verify/<str:reference>/",
        voucher_apis.LetterVerifyApi.as_view(),
        name="letter-verify",
    ),
    path("", include("disbursement.claim_api_urls")),
    path("", include("disbursement.payout_api_urls")),
    path("", include("disbursement.reconciliation_api_urls")),
    path("", include("reports.api_urls")),
    path("audit-events/", audit_apis.AuditEventListApi.as_view(), name="audit-events"),
]
