from django.urls import path

from disbursement import provider_views as views

app_name = "provider"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("claims/new/", views.claim_new, name="claim_new"),
    path("claims/<int:pk>/", views.claim_detail, name="claim_detail"),
]
