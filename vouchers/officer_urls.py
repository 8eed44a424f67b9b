from django.urls import path

from vouchers import views

app_name = "officer"

urlpatterns = [
    path("applications/", views.officer_applications, name="applications"),
    path("applications/<int:pk>/", views.officer_application_detail, name="application_detail"),
]
