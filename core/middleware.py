import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.request_context import RequestInfo, reset_request_info, set_request_info


def client_ip(request: HttpRequest) -> str | None:
    """The client address. Behind a proxy, trust X-Forwarded-For only when configured to."""
    if getattr(settings, "TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    """Record the caller's IP and user agent for audit events written during this request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        info = RequestInfo(
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            request_id=request.META.get("HTTP_X_REQUEST_ID", "")[:64] or uuid.uuid4().hex,
        )
        token = set_request_info(info)
        try:
            response = self.get_response(request)
        finally:
            reset_request_info(token)
        response["X-Request-ID"] = info.request_id
        return response


class DomainErrorMiddleware:
    """A DomainError that reaches a page (not the API, whose handler answers JSON) becomes a
    page that says what went wrong: 403 for NotAllowedError, 409 for a conflict, else 400.
    Never a 500 for a rule the user can read about."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.shortcuts import render

        from core.api.errors import json_error_response
        from core.exceptions import DomainError

        if not isinstance(exception, DomainError):
            return None
        if request.path.startswith("/api/"):
            return json_error_response(exception.code, exception.message, exception.status_code)
        return render(
            request,
            "errors/domain.html",
            {"message": exception.message},
            status=exception.status_code,
        )
