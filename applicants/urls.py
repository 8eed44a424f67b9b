from django.urls import path

from applicants import views
from vouchers import portal_views

app_name = "applicants"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("organizations/new/", views.organization_create, name="organization_create"),
    path("organizations/<int:pk>/", views.organization_detail, name="organization_detail"),
    path("organizations/<int:pk>/edit/", views.organization_edit, name="organization_edit"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("programs/<int:program_id>/apply/", views.application_start, name="application_start"),
    path("applications/<int:pk>/", views.application_detail, name="application_detail"),
    path(
        "applications/<int:pk>/edit/<slug:step>/", views.application_step, name="application_step"
    ),
    path("applications/<int:pk>/review/", views.application_review, name="application_review"),
    path("applications/<int:pk>/submit/", views.application_submit, name="application_submit"),
    path(
        "applications/<int:pk>/receipt/<int:number>/",
        views.application_receipt,
        name="application_receipt",
    ),
    path(
        "applications/<int:pk>/withdraw/", views.application_withdraw, name="application_withdraw"
    ),
    path(
        "applications/<int:pk>/documents/<int:document_id>/",
        views.document_download,
        name="document_download",
    ),
    path("vouchers/<int:pk>/", portal_views.voucher_detail, name="voucher_detail"),
    path("vouchers/<int:pk>/accept/", portal_views.voucher_accept_view, name="voucher_accept"),
    path(
        "vouchers/<int:pk>/letters/<int:version>/",
        portal_views.letter_download,
        name="letter_download",
    ),
]
