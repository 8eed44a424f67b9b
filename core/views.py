from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from core.api.errors import json_error_response
from core.request_context import current_request_info


def safe_next(request: HttpRequest, candidate: str | None, default: str) -> str:
    """`candidate` if it is a URL on this site, else `default` (no open redirects)."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return json_error_response("not_found", "Not found.", 404)
    return render(request, "errors/404.html", status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return json_error_response(
            "permission_denied", "You do not have permission to do this.", 403
        )
    return render(request, "errors/403.html", {"message": str(exception or "")}, status=403)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return json_error_response("bad_request", "The request could not be understood.", 400)
    return render(request, "errors/400.html", status=400)


def server_error(request: HttpRequest) -> HttpResponse:
    """Generic, with the request id as a reference to quote: the log lines carry the same id."""
    info = current_request_info()
    reference = info.request_id if info else ""
    response: HttpResponse
    if _wants_json(request):
        response = json_error_response(
            "server_error", "Something went wrong on our side; it has been logged.", 500
        )
    else:
        response = render(request, "errors/500.html", {"reference": reference}, status=500)
    if reference:
        response["X-Request-ID"] = reference
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _wants_json(request):
        return json_error_response(
            "csrf_failed",
            "CSRF check failed: send the X-CSRFToken header, or use token authentication.",
            403,
        )
    return render(request, "errors/csrf.html", status=403)


def home(request: HttpRequest) -> HttpResponse:
    from vouchers.selectors import program_list_open

    return render(request, "core/home.html", {"programs": list(program_list_open()[:6])})


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness and database reachability for the load balancer and docker-compose."""
    from django.db import connection
    from django.http import JsonResponse

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # the database is what we report on
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})


def posted(request: HttpRequest) -> QueryDict | None:
    """The POST data to bind a form to, or None for GET: an empty POST still shows its errors
    (unlike the `request.POST or None` idiom, which silently treats it as unbound)."""
    return request.POST if request.method == "POST" else None
