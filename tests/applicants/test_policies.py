"""The permission matrix: every role x ownership x action, for applications and organizations.

Each row is one decision of applicants.policies; the table is the specification.
"""

import pytest

from accounts.models import User
from applicants.models import Application
from applicants.policies import (
    AppAction,
    OrgAction,
    application_allows,
    can_create_organization,
    organization_allows,
)
from tests.factories import ApplicationFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

R = User.Role
ALL_ROLES = list(R)
OWN, OTHER = "own", "other"

# (role, ownership, status, conflict declaration) -> allowed actions. "own" means a member of the
# applicant organization; the declaration is the officer's conflict-of-interest statement.
NONE, CLEAR, CONFLICT = "undeclared", "no-conflict", "conflict"
APPLICANT_ACTIONS = {AppAction.VIEW, AppAction.VIEW_CONTENT, AppAction.EDIT, AppAction.SUBMIT,
                     AppAction.WITHDRAW}  # fmt: skip
GATE_ONLY = {AppAction.VIEW, AppAction.DECLARE_CONFLICT}
STAFF_READ = {AppAction.VIEW_CONTENT, AppAction.VIEW_REVIEW_PROCESS}  # not for applicants
OFFICER_CLEARED = {
    R.REVIEWER: GATE_ONLY | STAFF_READ | {AppAction.RETURN, AppAction.SCREEN, AppAction.REVIEW},
    R.APPROVER: GATE_ONLY | STAFF_READ | {AppAction.RETURN, AppAction.SCREEN, AppAction.ASSIGN,
                                          AppAction.DECIDE},
}  # fmt: skip
APPLICATION_MATRIX: dict[tuple[str, str, str, str], set[AppAction]] = {}
for role in ALL_ROLES:
    for ownership in (OWN, OTHER):
        for status in ("draft", "in_review"):
            for coi in (NONE, CLEAR, CONFLICT):
                allowed: set[AppAction] = set()
                if role == R.APPLICANT:
                    allowed = APPLICANT_ACTIONS if ownership == OWN else set()
                elif status == "draft":
                    allowed = set()  # drafts are private to the organization
                elif role in OFFICER_CLEARED:
                    allowed = OFFICER_CLEARED[role] if coi == CLEAR else GATE_ONLY
                elif role == R.ADMIN:
                    allowed = {AppAction.VIEW, *STAFF_READ, AppAction.RETURN,
                               AppAction.SCREEN, AppAction.ASSIGN}  # fmt: skip
                elif role == R.AUDITOR:
                    allowed = {AppAction.VIEW, *STAFF_READ}
                APPLICATION_MATRIX[(role, ownership, status, coi)] = allowed


def _user_with_ownership(role: str, ownership: str, organization) -> User:
    user = UserFactory(role=role)
    if ownership == OWN:
        organization.memberships.create(user=user, role="member")
    return user


@pytest.mark.parametrize(("role", "ownership", "status", "coi"), sorted(APPLICATION_MATRIX))
def test_application_permission_matrix(role, ownership, status, coi):
    from vouchers.models import ConflictDeclaration

    application = ApplicationFactory(status=status)
    user = _user_with_ownership(role, ownership, application.organization)
    if coi != NONE:
        ConflictDeclaration.objects.create(
            application=application, officer=user, has_conflict=coi == CONFLICT
        )
    expected = APPLICATION_MATRIX[(role, ownership, status, coi)]
    actual = {action for action in AppAction if application_allows(user, application, action)}
    assert actual == expected, f"{role}/{ownership}/{status}/{coi}"


ORG_MATRIX = {
    (R.APPLICANT, OWN, "owner"): {
        OrgAction.VIEW,
        OrgAction.EDIT,
        OrgAction.INVITE,
        OrgAction.APPLY,
    },
    (R.APPLICANT, OWN, "member"): {OrgAction.VIEW, OrgAction.EDIT, OrgAction.APPLY},
    (R.APPLICANT, OTHER, None): set(),
    **{
        (role, OTHER, None): {OrgAction.VIEW}
        for role in (R.REVIEWER, R.APPROVER, R.ADMIN, R.AUDITOR)
    },
    **{(role, OTHER, None): set() for role in (R.FINANCE, R.PROVIDER)},
}


@pytest.mark.parametrize(("role", "ownership", "member_role"), sorted(ORG_MATRIX, key=str))
def test_organization_permission_matrix(role, ownership, member_role):
    organization = OrganizationFactory()
    user = UserFactory(role=role)
    if member_role:
        organization.memberships.create(user=user, role=member_role)
    expected = ORG_MATRIX[(role, ownership, member_role)]
    actual = {action for action in OrgAction if organization_allows(user, organization, action)}
    assert actual == expected


def test_inactive_users_may_do_nothing():
    application = ApplicationFactory(status="in_review")
    user = UserFactory(role=R.APPLICANT, is_active=False)
    application.organization.memberships.create(user=user)
    assert not any(application_allows(user, application, a) for a in AppAction)
    officer = UserFactory(role=R.REVIEWER, is_active=False)
    assert not any(application_allows(officer, application, a) for a in AppAction)


def test_only_applicants_create_organizations():
    assert [r for r in ALL_ROLES if can_create_organization(UserFactory(role=r))] == [R.APPLICANT]


def test_every_application_status_is_in_the_transition_table():
    from applicants.models import ALL_STATUSES

    assert set(Application.TRANSITIONS) == set(Application.Status.values) == set(ALL_STATUSES)
    for targets in Application.TRANSITIONS.values():
        assert targets <= set(Application.Status.values)
