"""Locking an application row and checking a status change: shared by every service that
moves an application (applicants.services, vouchers.services)."""

from applicants.models import Application
from core.exceptions import ConflictError


def lock_application(application_id: int) -> Application:
    """The application row, locked until the caller's transaction ends.

    Only this row is locked (`of=("self",)`): the joined program and organization rows are read,
    not locked, so unrelated applications to the same program never wait for each other.
    """
    return (
        Application.objects.select_for_update(of=("self",))
        .select_related("program", "organization", "intended_provider")
        .get(pk=application_id)
    )


def ensure_transition(application: Application, target: str, refusal: str) -> None:
    """Raise ConflictError (code invalid_status) unless TRANSITIONS allows status -> target.

    `refusal` is a translated sentence with a %(status)s placeholder for the current status.
    """
    if target not in Application.TRANSITIONS[application.status]:
        raise ConflictError(
            refusal % {"status": application.get_status_display()}, code="invalid_status"
        )
