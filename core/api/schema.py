"""The OpenAPI schema tells the truth about errors, in one place rather than on every view.

`AutoSchema` (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]) adds to every operation the error
responses it can really give, each with the one error body of core.api.errors:

    400  it takes input: a body, query parameters, or a change a rule may refuse
    401  it authenticates callers (a missing or bad token)
    403  it needs a signed-in caller whose role or relation to the object may not be enough
    404  it names an object in its path or its body, or pages through a list
    409  it changes state (already submitted, already paid, ...)
    415  it reads a body, sent with a Content-Type it does not read
    429  it is throttled
    503  always: the database was briefly unreachable (see errors.exception_handler)

A view may still document an error itself (say, 409 on a download that is not ready, or 422
for a refused claim): what it says wins, and a status it lists without a body gets this one.
tests/core/test_api_fuzz.py checks every answer, for every role, against the result.
"""

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.plumbing import ComponentRegistry
from rest_framework import serializers

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
PAGINATION = {"page", "page_size"}
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds to wait before sending the same request again.",
    }
}


class ErrorBody(serializers.Serializer):
    code = serializers.CharField(help_text='Stable and machine-readable, e.g. "unknown_field".')
    message = serializers.CharField(help_text="For people, in the caller's language.")
    # The metaclass moves declared fields out of the class, so "fields" does not hide .fields.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text='Messages by input field ("lines.0.amount" for nested ones).',
    )


class Error(serializers.Serializer):
    error = ErrorBody()


ERRORS: dict[str, str] = {
    "400": "Bad input: a field, a parameter or a rule refused it (`fields` says which).",
    "401": "Not authenticated: no token, or one that is unknown, expired or revoked.",
    "403": "Not allowed: the caller's role or relation to the object does not permit it.",
    "404": "Not found, or not visible to the caller.",
    "409": "The current state forbids it (already submitted, decided, paid, ...).",
    "415": "The body was sent with a Content-Type this operation does not read.",
    "429": "Too many requests: wait for Retry-After seconds.",
    "503": "The database was briefly unreachable; nothing was half-written. Send the same "
    "request again after Retry-After seconds.",
}


class AutoSchema(openapi.AutoSchema):
    def get_operation(
        self,
        path: str,
        path_regex: str,
        path_prefix: str,
        method: str,
        registry: ComponentRegistry,
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        error_ref = self.resolve_serializer(Error, "response").ref
        for code in self._error_codes(operation):
            response = responses.setdefault(code, {"description": ERRORS[code]})
            if not response.get("description"):
                response["description"] = ERRORS[code]
            response.setdefault("content", {"application/json": {"schema": error_ref}})
            if code in ("429", "503"):
                response.setdefault("headers", RETRY_AFTER)
            if code == "401":
                response.setdefault(
                    "headers",
                    {"WWW-Authenticate": {"schema": {"type": "string", "example": "Token"}}},
                )
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_codes(self, operation: dict[str, Any]) -> list[str]:
        parameters = operation.get("parameters", [])
        in_path = any(p["in"] == "path" for p in parameters)
        query = {p["name"] for p in parameters if p["in"] == "query"}
        paginated = "page" in query
        in_query = bool(query - PAGINATION)  # a bad page is a 404, a bad page size is ignored
        codes = [code for code in operation["responses"] if code in ERRORS]
        if self.method in UNSAFE or in_query or "requestBody" in operation:
            codes.append("400")
        if self.view.get_authenticate_header(self.view.request):
            codes.append("401")
        if operation.get("security"):
            codes.append("403")
        # A body may name an object too (the organization and program of a new application).
        if in_path or paginated or "requestBody" in operation:
            codes.append("404")
        if self.method in UNSAFE:
            codes.append("409")
        if "requestBody" in operation:
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
        codes.append("503")
        return sorted(set(codes))
