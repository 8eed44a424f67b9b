"""The project's URLs plus views that fail on purpose (tests/security/test_error_pages.py)."""

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import handler400, handler403, handler404, handler500, urlpatterns

SECRET_DETAIL = "db-password-hunter2-in-the-exception"  # noqa: S105


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(f"unexpected failure: {SECRET_DETAIL}")


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation(f"tampered: {SECRET_DETAIL}")


urlpatterns = [
    path("test-errors/boom/", boom),
    path("api/v1/test-errors/boom/", boom),
    path("test-errors/forbidden/", forbidden),
    path("test-errors/suspicious/", suspicious),
    *urlpatterns,
]
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
