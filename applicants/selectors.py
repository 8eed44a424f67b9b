"""Reads about organizations and applications, with visibility applied at the source."""

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.models import User
from applicants.models import Application, ApplicationVersion, Document, Organization
from applicants.policies import (
    COI_ROLES,
    OFFICER_VIEW_ROLES,
    AppAction,
    OrgAction,
    application_allows,
    conflict_state,
    organization_allows,
)
from audit.services import audit_refuse


def _deny(
    *,
    viewer: User,
    target: Any,
    action: str,
    reveal: bool,
    code: str = "permission_denied",
    message: str | None = None,
) -> None:
    """Record the refusal, then refuse. Objects the viewer may not see at all answer 404."""
    audit_refuse(
        viewer=viewer, attempted=action, target=target, reveal=reveal, code=code, message=message
    )


def organization_list_for_user(*, user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user=user).order_by("legal_name")


def organization_get_for(*, viewer: User, organization_id: int, action: OrgAction) -> Organization:
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        raise Http404("No such organization.")
    if not organization_allows(viewer, organization, action):
        visible = organization_allows(viewer, organization, OrgAction.VIEW)
        _deny(viewer=viewer, target=organization, action=str(action), reveal=visible)
    return organization


def application_list_for_viewer(*, viewer: User) -> QuerySet[Application]:
    """Applications the viewer may see: their organizations' for applicants; every non-draft
    application for officers and auditors; nothing for anyone else."""
    qs = Application.objects.select_related("organization", "program")
    if not viewer.is_authenticated or not viewer.is_active:
        return qs.none()
    if viewer.role == User.Role.APPLICANT:
        return qs.filter(organization__memberships__user=viewer)
    if viewer.role in OFFICER_VIEW_ROLES:
        return qs.exclude(status=Application.Status.DRAFT)
    return qs.none()


def application_get_for(*, viewer: User, application_id: Any, action: AppAction) -> Application:
    """The application if the viewer may `action` it; otherwise the refusal is recorded and
    Http404 (cannot see it) or NotAllowedError (can see, may not act) is raised."""
    try:
        pk = int(application_id)
    except (TypeError, ValueError):
        raise Http404("No such application.") from None
    application = (
        Application.objects.select_related("organization", "program", "intended_provider")
        .filter(pk=pk)
        .first()
    )
    if application is None:
        raise Http404("No such application.")
    if not application_allows(viewer, application, action):
        visible = application_allows(viewer, application, AppAction.VIEW)
        if visible and viewer.role in COI_ROLES and action != AppAction.DECLARE_CONFLICT:
            _refuse_until_declared(viewer, application, action)
        _deny(viewer=viewer, target=application, action=str(action), reveal=visible)
    return application


def _refuse_until_declared(viewer: User, application: Application, action: AppAction) -> None:
    """The conflict-of-interest gate: say why, in a way a client can act on."""
    state = conflict_state(viewer, application)
    if state is None:
        _deny(
            viewer=viewer,
            target=application,
            action=str(action),
            reveal=True,
            code="conflict_declaration_required",
            message=_(
                "Declare whether you have a conflict of interest with this application "
                "before you see or act on its content."
            ),
        )
    if state is True:
        _deny(
            viewer=viewer,
            target=application,
            action=str(action),
            reveal=True,
            code="conflict_of_interest",
            message=_(
                "You declared a conflict of interest with this application, so its "
                "content is hidden from you and you cannot act on it."
            ),
        )


def application_documents(*, application: Application) -> QuerySet[Document]:
    return application.documents.filter(removed_at__isnull=True).select_related("uploaded_by")


def application_versions(*, application: Application) -> QuerySet[ApplicationVersion]:
    return application.versions.select_related("submitted_by").order_by("number")
