"""/api/v1/: one line per operation path."""

from django.urls import path

from accounts import apis as accounts_apis
from applicants import apis as applicants_apis
from vouchers import apis as vouchers_apis

urlpatterns = [
    path("auth/register/", accounts_apis.RegisterApi.as_view(), name="auth-register"),
    path("auth/token/", accounts_apis.TokenCreateApi.as_view(), name="auth-token-create"),
    path("auth/tokens/", accounts_apis.TokenListApi.as_view(), name="auth-tokens"),
    path("auth/tokens/<int:token_id>/", accounts_apis.TokenRevokeApi.as_view(), name="auth-token"),
    path("me/", accounts_apis.MeApi.as_view(), name="me"),
    path("programs/", vouchers_apis.ProgramListApi.as_view(), name="programs"),
    path("programs/<int:program_id>/", vouchers_apis.ProgramDetailApi.as_view(), name="program"),
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
]
