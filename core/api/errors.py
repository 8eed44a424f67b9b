"""One JSON error shape for the whole API:

    {"error": {"code": "validation_error", "message": "...", "fields": {"name": ["..."]}}}

Every exception an API view can meet is mapped here, so a client never sees an HTML page or a
500 for bad input.
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.exceptions import DomainError


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested ErrorDetail structure -> {"field" or "lines.0.amount": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                name = prefix or "non_field_errors"
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                for k, v in _flatten(item, f"{prefix}.{index}" if prefix else str(index)).items():
                    out.setdefault(k, []).extend(v)
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def _django_validation_fields(error: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {k: [str(m) for e in v for m in e.messages] for k, v in error.error_dict.items()}
    return {"non_field_errors": [str(m) for m in error.messages]}


logger = logging.getLogger(__name__)

# How long a client should wait before sending the same request again when the database is
# unreachable (a restart or a fail-over takes seconds).
RETRY_AFTER_SECONDS = 5


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, OperationalError | InterfaceError):
        # The database went away (restart, fail-over, network): nothing was half-written (the
        # transaction rolled back, or it committed and a retry with the same idempotency key
        # answers with the stored result). Tell the client to retry, not that it erred.
        logger.warning("database unavailable: %s", exc, exc_info=exc)
        return Response(
            error_body(
                "service_unavailable",
                _("The service is briefly unavailable. Send the same request again shortly."),
            ),
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DomainError):
        return Response(
            error_body(exc.code, exc.message, exc.fields or None), status=exc.status_code
        )
    if isinstance(exc, DjangoValidationError):
        fields = _django_validation_fields(exc)
        first = next(iter(fields.values()))[0] if fields else _("Invalid input.")
        return Response(error_body("validation_error", first, fields), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500 (see core.views.server_error)
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first_field, first_messages = next(iter(fields.items()), ("", [_("Invalid input.")]))
        message = first_messages[0]
        if first_field and first_field != "non_field_errors":
            message = f"{first_field}: {message}"
        codes = exc.get_codes()
        code: str = "validation_error"
        if isinstance(codes, dict) and len(codes) == 1:
            only = next(iter(codes.values()))
            if isinstance(only, list) and len(only) == 1 and isinstance(only[0], str):
                code = only[0]
        response.data = error_body(code, message, fields)
        return response
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = str(detail) if not isinstance(detail, dict | list) else _("Request refused.")
        raw_code = exc.get_codes()
        api_code = raw_code if isinstance(raw_code, str) else exc.default_code
        response.data = error_body(str(api_code), message)
    return response


def json_error_response(code: str, message: str, status_code: int) -> JsonResponse:
    """The same shape outside DRF (404/500 handlers for /api/ paths)."""
    return JsonResponse(error_body(code, message), status=status_code)


__all__ = ["error_body", "exception_handler", "json_error_response", "status"]
