"""Who may do what to organizations and applications: the one place these decisions live.

Every view and API asks here (through applicants.selectors.*_get_for), and the permission
matrix in tests/applicants/test_policies.py checks every role x ownership x action.
"""

from enum import StrEnum

from django.utils.translation import gettext as _

from accounts.models import User
from applicants.models import Application, Organization
from core.exceptions import NotAllowedError


class AppAction(StrEnum):
    VIEW = "view"  # that it exists: reference, organization, program, status
    VIEW_CONTENT = "view_content"  # what the applicant wrote: answers, documents, versions
    EDIT = "edit"  # save draft answers, upload and remove documents
    SUBMIT = "submit"
    WITHDRAW = "withdraw"
    DECLARE_CONFLICT = "declare_conflict"  # state a conflict of interest (or none)
    RETURN = "return"  # officer sends it back to the applicant for changes
    SCREEN = "screen"  # officer overrides a failed eligibility rule
    ASSIGN = "assign"  # officer assigns reviewers
    REVIEW = "review"  # reviewer scores it (the service checks the assignment)
    DECIDE = "decide"  # approver approves or rejects (the service checks four eyes)
    # Who reviews it, and the officers' own notes (override justifications): staff only, so
    # that nobody can lobby a named reviewer.
    VIEW_REVIEW_PROCESS = "view_review_process"


class OrgAction(StrEnum):
    VIEW = "view"
    EDIT = "edit"
    INVITE = "invite"
    APPLY = "apply"


OFFICER_VIEW_ROLES = frozenset(
    {User.Role.REVIEWER, User.Role.APPROVER, User.Role.ADMIN, User.Role.AUDITOR}
)
RETURN_ROLES = frozenset({User.Role.REVIEWER, User.Role.APPROVER, User.Role.ADMIN})
# Officers who must declare any conflict of interest before they see what an applicant wrote.
COI_ROLES = frozenset({User.Role.REVIEWER, User.Role.APPROVER})
OFFICER_ACTIONS: dict[AppAction, frozenset[str]] = {
    AppAction.VIEW: OFFICER_VIEW_ROLES,
    AppAction.VIEW_CONTENT: OFFICER_VIEW_ROLES,
    AppAction.VIEW_REVIEW_PROCESS: OFFICER_VIEW_ROLES,
    AppAction.DECLARE_CONFLICT: COI_ROLES,
    AppAction.RETURN: RETURN_ROLES,
    AppAction.SCREEN: RETURN_ROLES,
    AppAction.ASSIGN: frozenset({User.Role.APPROVER, User.Role.ADMIN}),
    AppAction.REVIEW: frozenset({User.Role.REVIEWER}),
    AppAction.DECIDE: frozenset({User.Role.APPROVER}),
}


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
            AppAction.VIEW_CONTENT,
            AppAction.EDIT,
            AppAction.SUBMIT,
            AppAction.WITHDRAW,
        }
    if application.status == Application.Status.DRAFT:
        return False  # drafts are private to the organization
    if user.role not in OFFICER_ACTIONS.get(action, frozenset()):
        return False
    if action in (AppAction.VIEW, AppAction.DECLARE_CONFLICT) or user.role not in COI_ROLES:
        return True
    # Everything else shows or acts on the content: only after declaring no conflict.
    return conflict_state(user, application) is False


def conflict_state(user: User, application: Application) -> bool | None:
    """None: not declared yet; True: declared a conflict; False: declared none.

    Cached on the application instance for the request (instances are loaded per request).
    """
    from vouchers.models import ConflictDeclaration

    cache: dict[int, bool | None] = application.__dict__.setdefault("_conflict_states", {})
    if user.pk not in cache:
        cache[user.pk] = (
            ConflictDeclaration.objects.filter(application_id=application.pk, officer_id=user.pk)
            .values_list("has_conflict", flat=True)
            .first()
        )
    return cache[user.pk]


def forget_conflict_state(application: Application) -> None:
    application.__dict__.pop("_conflict_states", None)


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


def require_applicant_account(user: User, *, creating: str) -> None:
    """Refuse (403) anyone but an applicant account before an API reads what it was sent:
    only applicants register organizations and start applications (`creating` says which)."""
    if can_create_organization(user) and user.is_active:
        return
    if creating == "organization":
        raise NotAllowedError(_("Only applicant accounts can register an organization."))
    raise NotAllowedError(_("Only applicant accounts can apply for a voucher."))
