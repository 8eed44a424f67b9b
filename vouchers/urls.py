from django.urls import path

from vouchers import views

app_name = "vouchers"

urlpatterns = [
    path("", views.program_list, name="program_list"),
    path("verify/<str:reference>/", views.letter_verify, name="letter_verify"),
    path("<slug:slug>/", views.program_detail, name="program_detail"),
]
