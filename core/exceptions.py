"""Errors that services raise and every interface turns into a clear message."""

from collections.abc import Mapping, Sequence

from core.request_context import note_denial


class DomainError(Exception):
    """A rule of the domain refused the request. Shown to the user as-is: write it for them.

    `code` is stable and machine-readable; `fields` maps input fields to their messages when the
    error belongs to particular inputs. APIs answer 400 (409 for `ConflictError`).
    """

    status_code = 400
    default_code = "domain_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = str(message)
        self.code = code or self.default_code
        self.fields = {key: [str(m) for m in msgs] for key, msgs in (fields or {}).items()}


class ConflictError(DomainError):
    """The request conflicts with the current state (already submitted, taken, locked)."""

    status_code = 409
    default_code = "conflict"


class NotAllowedError(DomainError):
    """The actor may not do this to this object. Raised by policies; APIs answer 403.

    Creating one notes the refusal on the current request, so that it is audited even when a
    view shows it as a form error (audit.middleware.PermissionDenialAuditMiddleware).
    """

    status_code = 403
    default_code = "permission_denied"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(message, code=code, fields=fields)
        note_denial(self.message)
