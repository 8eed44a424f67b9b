"""The project's URLs plus a baseline view: the best a page can do on the same server stack."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from accounts.models import User
from config import urls as project_urls


def baseline(request: HttpRequest) -> HttpResponse:
    """One indexed single-row query through the full middleware stack, anonymous."""
    pk = User.objects.order_by("pk").values_list("pk", flat=True).first()
    return HttpResponse(f"ok {pk}\n", content_type="text/plain")


urlpatterns = [path("bench/baseline/", baseline, name="bench-baseline"), *project_urls.urlpatterns]

handler400 = project_urls.handler400
handler403 = project_urls.handler403
handler404 = project_urls.handler404
handler500 = project_urls.handler500
