from django.urls import path

from disbursement import officer_views as money_views
from vouchers import officer_views as views

app_name = "officer"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("queues/<slug:name>/", views.queue, name="queue"),
    path("applications/", views.applications, name="applications"),
    path("applications/<int:pk>/", views.application_detail, name="application_detail"),
    path("applications/<int:pk>/conflict/", views.declare_conflict, name="declare_conflict"),
    path(
        "applications/<int:pk>/screening/<int:result_id>/override/", views.override, name="override"
    ),
    path("applications/<int:pk>/assign/", views.assign, name="assign"),
    path(
        "applications/<int:pk>/assignments/<int:assignment_id>/remove/",
        views.unassign,
        name="unassign",
    ),
    path("applications/<int:pk>/review/", views.review, name="review"),
    path("applications/<int:pk>/approve/", views.approve, name="approve"),
    path("applications/<int:pk>/reject/", views.reject, name="reject"),
    path("applications/<int:pk>/return/", views.return_application, name="return"),
    path(
        "applications/<int:pk>/letters/<int:letter_id>/",
        views.letter_download,
        name="letter_download",
    ),
    path(
        "applications/<int:pk>/letters/<int:letter_id>/retry/",
        views.letter_retry,
        name="letter_retry",
    ),
    path("applications/<int:pk>/letters/reissue/", views.letter_reissue, name="letter_reissue"),
    path("claims/", money_views.claims, name="claims"),
    path("claims/<int:pk>/", money_views.claim_detail, name="claim_detail"),
    path("vouchers/<int:pk>/", money_views.voucher_detail, name="voucher_detail"),
    path("vouchers/<int:pk>/suspend/", money_views.suspend, name="voucher_suspend"),
    path("vouchers/<int:pk>/reinstate/", money_views.reinstate, name="voucher_reinstate"),
    path("vouchers/<int:pk>/clawback/", money_views.clawback, name="voucher_clawback"),
    path(
        "vouchers/<int:pk>/claims/<int:claim_id>/reverse/",
        money_views.reverse_claim,
        name="claim_reverse",
    ),
]
