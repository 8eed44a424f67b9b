"""Every refused request leaves a permission-denied event, whoever refused it.

The selectors' own refusals (applicants, vouchers, payouts) record the object that was refused;
this middleware covers the rest: a role check that raised PermissionDenied, a DRF permission
class, a NotAllowedError from a service (whether it became a 403 or a form error), a CSRF
failure of a signed-in user. A request whose refusal was already recorded is not recorded again.
Anonymous requests are not: they were refused for not signing in, and failed logins are audited.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit.models import AuditAction
from audit.services import audit_record
from core.request_context import current_request_info


class PermissionDenialAuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        info = current_request_info()
        refused = response.status_code == 403 or bool(info and info.denials)
        user = getattr(request, "user", None)
        if not refused or not getattr(user, "is_authenticated", False):
            return response
        if info is not None and info.denials_recorded:
            return response
        match = request.resolver_match
        audit_record(
            actor=user,
            action=AuditAction.PERMISSION_DENIED,
            stream=f"accounts.user:{user.pk}",  # type: ignore[union-attr]
            data={
                "attempted": f"{request.method} {request.path}"[:300],
                "view": match.view_name if match else "",
                "status": response.status_code,
                "reason": (info.denials[0] if info and info.denials else "")[:300],
            },
        )
        return response
