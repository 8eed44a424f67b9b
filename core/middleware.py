import re
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


# An id a proxy or client sends is kept if it is short and plain (it goes into log lines and
# audit events); anything else is replaced by one of ours.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id(request: HttpRequest) -> str:
    sent = request.META.get("HTTP_X_REQUEST_ID", "")
    return sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


class RequestContextMiddleware:
    """Record the caller's IP, user agent and request id for the audit events and log lines
    written during this request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        info = RequestInfo(
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            request_id=request_id(request),
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


class ContentSecurityPolicyMiddleware:
    """Add the Content-Security-Policy (settings.CONTENT_SECURITY_POLICY) and Permissions-Policy
    headers to every response. DJANGO_CSP_REPORT_ONLY=1 sends the policy as report-only.

    A response that already carries a policy (a view that needs a different one) keeps it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from core.security import csp_header_value

        self.get_response = get_response
        self.policy = csp_header_value(
            settings.CONTENT_SECURITY_POLICY,
            getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_URI", ""),
        )
        self.permissions = getattr(settings, "PERMISSIONS_POLICY", "")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from core.security import csp_header_name

        response = self.get_response(request)
        header = csp_header_name()
        if self.policy and header not in response:
            response[header] = self.policy
        if self.permissions and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = self.permissions
        return response


class RequestSizeLimitMiddleware:
    """Refuse a request whose declared body is larger than settings.REQUEST_MAX_BYTES with a
    413, before anything reads it: a 1 GB "document" is not spooled to disk to be refused
    afterwards. (The reverse proxy should cap bodies too; this is the application's own cap.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        limit = settings.REQUEST_MAX_BYTES
        if declared > limit:
            return self.too_large(request, limit)
        return self.get_response(request)

    @staticmethod
    def too_large(request: HttpRequest, limit: int) -> HttpResponse:
        from django.shortcuts import render
        from django.template.defaultfilters import filesizeformat
        from django.utils.translation import gettext as _

        from core.api.errors import json_error_response

        message = _("The request is larger than %(limit)s. Upload files one at a time.") % {
            "limit": filesizeformat(limit)
        }
        if request.path.startswith("/api/"):
            return json_error_response("request_too_large", message, 413)
        return render(request, "errors/domain.html", {"message": message}, status=413)


class SessionTimeoutMiddleware:
    """Log a person out after SESSION_IDLE_TIMEOUT seconds without a request, and in any case
    SESSION_ABSOLUTE_TIMEOUT seconds after they logged in. The request then goes on as
    anonymous (a page asks to log in again; the API answers 401/403), and the logout is
    audited with its reason. Runs after authentication and RequestContextMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.contrib import messages
        from django.contrib.auth import logout
        from django.utils.translation import gettext as _

        from core.security import session_expiry_reason

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            reason = session_expiry_reason(request.session)
            if reason is not None:
                request.logout_reason = f"{reason}_timeout"  # type: ignore[attr-defined]
                logout(request)
                if reason == "idle":
                    text = _(
                        "You were logged out after %(minutes)d minutes without activity. "
                        "Log in again to continue."
                    ) % {"minutes": settings.SESSION_IDLE_TIMEOUT // 60}
                else:
                    text = _(
                        "You were logged out because you logged in more than %(hours)d hours "
                        "ago. Log in again to continue."
                    ) % {"hours": settings.SESSION_ABSOLUTE_TIMEOUT // 3600}
                messages.info(request, text, fail_silently=True)
        return self.get_response(request)
