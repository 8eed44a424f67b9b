"""Who may do what to organizations and applications: the one place these decisions live.

Every view and API asks here (through applicants.selectors.*_get_for), and the permission
matrix in tests/applicants/test_policies.py checks every role x ownership x action.
"""

from enum import StrEnum

from accounts.models import User
from applicants.models import Application, Organization


class AppAction(StrEnum):
    VIEW = "view"
    EDIT = "edit"  # save draft answers, upload and remove documents
    SUBMIT = "submit"
    WITHDRAW = "withdraw"
    RETURN = "return"  # officer sends it back to the applicant for changes


class OrgAction(StrEnum):
    VIEW = "view"
    EDIT = "edit"
    INVITE = "invite"
    APPLY = "apply"


OFFICER_VIEW_ROLES = frozenset(
    {User.Role.REVIEWER, User.Role.APPROVER, User.Role.ADMIN, User.Role.AUDITOR}
)
RETURN_ROLES = frozenset({User.Role.REVIEWER, User.Role.APPROVER, User.Role.ADMIN})


def _member_role(user: User, organization_id: int) -> str | None:
    """The user's role in the organization, or None. Asked of the database every time, so a
    removed member loses access at once."""
    from applicants.models import Membership

    return (
        Membership.objects.filter(user_id=user.pk, organization_id=organization_id)
        .values_list("role", flat=True)
        .first()
    )


def application_allows(user: User, application: Application, action: AppAction) -> bool:
    """Whether `user` may perform `action` on `application`, ignoring its state.

    State rules (a submitted application is locked) are enforced by the services, which explain
    them to the user; this answers only "is this yours / your job".
    """
    if not user.is_authenticated or not user.is_active:
        return False
    if user.role == User.Role.APPLICANT:
        return _member_role(user, application.organization_id) is not None and action in {
            AppAction.VIEW,
            AppAction.EDIT,
            AppAction.SUBMIT,
            AppAction.WITHDRAW,
        }
    if application.status == Application.Status.DRAFT:
        return False  # drafts are private to the organization
    if action == AppAction.VIEW:
        return user.role in OFFICER_VIEW_ROLES
    if action == AppAction.RETURN:
        return user.role in RETURN_ROLES
    return False


def organization_allows(user: User, organization: Organization, action: OrgAction) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.role == User.Role.APPLICANT:
        role = _member_role(user, organization.pk)
        if role is None:
            return False
        if action == OrgAction.INVITE:
            return role == "owner"
        return True
    return action == OrgAction.VIEW and user.role in OFFICER_VIEW_ROLES


def can_create_organization(user: User) -> bool:
    return user.is_authenticated and user.role == User.Role.APPLICANT
