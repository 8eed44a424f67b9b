from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("", views.events, name="events"),
    path("timeline/", views.timeline_lookup, name="timeline_lookup"),
    path(
        "timeline/application/<int:pk>/",
        views.application_timeline,
        name="application_timeline",
    ),
    path("timeline/voucher/<int:pk>/", views.voucher_timeline, name="voucher_timeline"),
]
