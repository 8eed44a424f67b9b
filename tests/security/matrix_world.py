"""The world the authorization matrix walks, and how one request is sent and judged.

Built on the auditor's matrix (tests/core/test_auditor_matrix.py): its World of real objects
(applicant A's accepted voucher, claims by provider X, a payout, reconciliation runs, an alert,
a report, applicant B's resubmitted application...) fills every path parameter, and its
checksum of every table proves that a request changed nothing. Added here: a person for every
column of the matrix (an unassigned reviewer, a second provider with its own claim, applicant
B's own voucher, an administrator with the admin site), and a runner that sends each request
inside a savepoint rolled back afterwards, so that what one allowed write changes cannot
change what the next request sees, and the order of the walk does not matter.
"""

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from accounts.models import User
from accounts.services import api_token_create
from applicants import services as applicant_services
from applicants.models import Application
from disbursement.models import Claim, ProviderStaff
from disbursement.services import payouts as payout_services
from disbursement.services.claims import claim_submit
from reports.services import report_request
from tests.core.test_auditor_matrix import (
    LOGIN_PAGES,
    Route,
    World,
    checksum,
    walk,
    world,  # noqa: F401  (the fixture this module's fixture extends)
)
from tests.disbursement.conftest import active_voucher, claim_input, provider_staff  # noqa: F401
from tests.factories import ProgramFactory, ProviderFactory, UserFactory
from tests.security.access import METHODS
from tests.vouchers.conftest import approved, make_ready, ready  # noqa: F401
from vouchers import services as voucher_services
from vouchers.models import Voucher

# The columns of the matrix (tests/security/access.py says who each is). "other" roles are the
# ID swap: the same URL, naming an object of applicant A / provider X / the assigned reviewer,
# asked for by someone else of that role.
WRITE_METHODS = METHODS[1:]

# How an answer is summed up. Every cell of the matrix expects exactly one of these.
OUTCOMES = {
    "ok": "2xx, or a redirect to a page that is not a login page",
    "login": "401, or a redirect to a login page (/accounts/login/, /admin/login/)",
    "denied": "403 or 404",
    "405": "method not allowed",
    "invalid": "400: let through, and the empty body refused by validation",
    "409": "let through, and refused by the state of the object (DomainError)",
}

# Routes whose ids name applicant B's objects (World.overrides): there A and B swap columns.
SWAPPED_APPLICANTS = {"api:application-version-diff"}

# Written by a refused request on purpose: the record of the refusal, the session, lockouts.
UNWATCHED_TABLES = re.compile(r"^(audit_|django_session|axes_)")
WRITE_SQL = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(?P<table>\w+)\"?", re.I)


@dataclass
class Matrix:
    """The auditor's World, and a signed-in client for every column."""

    world: World
    users: dict[str, User | None]
    clients: dict[str, Client]
    baseline: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def client_for(self, role: str, route: Route) -> Client:
        if route.name in SWAPPED_APPLICANTS and role.startswith("applicant_"):
            role = "applicant_other" if role == "applicant_own" else "applicant_own"
        return self.clients[role]


@pytest.fixture
def matrix(  # noqa: F811
    world: World,  # noqa: F811
    applicant: User,
    other_applicant: User,
    reviewer: User,
    approver: User,
    finance: User,
    provider_staff: User,  # noqa: F811
    provider: Any,
    auditor: User,
    other_organization: Any,
    django_capture_on_commit_callbacks: Any,
) -> Matrix:
    voucher = Voucher.objects.get(pk=world.ids["voucher_id"])
    # Provider Y: approved for the same program, with staff and a claim of its own.
    provider_y = ProviderFactory(short_name="Yonder Compute")
    voucher.application.program.approved_providers.add(provider_y)
    staff_y = UserFactory(role=User.Role.PROVIDER)
    ProviderStaff.objects.create(provider=provider_y, user=staff_y)
    claim_y = claim_submit(actor=staff_y, provider=provider_y, data=claim_input(voucher)).claim
    # Applicant B's own voucher: B's application (returned and resubmitted) approved.
    b_application = world.overrides["api:application-version-diff"]["application_id"]
    b_app = make_ready(
        Application.objects.get(pk=b_application), reviewer=reviewer, approver=approver
    )
    with django_capture_on_commit_callbacks(execute=True):
        voucher_services.application_approve(
            actor=approver, application_id=b_app.pk, amount_cents=140_000_00
        )
    voucher_b = Voucher.objects.get(application_id=b_app.pk)
    # What each party has of its own, for the list-leak test: a payout for Y too, a report
    # asked for by each applicant, an API token for each party.
    payout_y = payout_services.payout_create(actor=finance, provider_id=provider_y.pk)
    for owner, owned in ((applicant, voucher), (other_applicant, voucher_b)):
        report_request(actor=owner, kind="voucher_statement", params={"voucher": owned.pk})
    for owner in (applicant, provider_staff, staff_y):
        api_token_create(user=owner, name="own token", otp_verified=True)
    # A's new draft in the same program: what the mass-assignment test edits.
    draft_a = applicant_services.application_create(
        actor=applicant, organization_id=voucher.organization_id, program_id=voucher.program_id
    )
    users: dict[str, User | None] = {
        "anonymous": None,
        "applicant_own": applicant,
        "applicant_other": other_applicant,
        "reviewer_assigned": reviewer,
        "reviewer_other": UserFactory(role=User.Role.REVIEWER),
        "approver": approver,
        "finance": finance,
        "provider_own": provider_staff,
        "provider_other": staff_y,
        "auditor": auditor,
        "admin": UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=True),
    }
    clients = {}
    for role, user in users.items():
        clients[role] = Client(raise_request_exception=False)
        if user is not None:
            clients[role].force_login(user)
    m = Matrix(world=world, users=users, clients=clients)
    m.extra = {
        "provider_x": provider,
        "provider_y": provider_y,
        "claim_x": Claim.objects.get(pk=world.ids["claim_id"]),
        "claim_y": claim_y,
        "voucher_a": voucher,
        "voucher_b": voucher_b,
        "organization_b": other_organization,
        "payout_x": world.ids["payout_id"],
        "payout_y": payout_y,
        "draft_a": draft_a,
        "program_2": ProgramFactory(providers=[provider]),  # a program nobody applied to
    }
    m.baseline = checksum()  # after the logins, which stamp last_login
    return m


# --- one request -------------------------------------------------------------------------------


@dataclass
class Cell:
    route: str  # the pattern's name (or its route when unnamed)
    role: str
    method: str
    path: str
    status: int
    location: str
    outcome: str
    changed: list[str]  # tables whose checksum differs after the request (before its rollback)
    inspected: Any = None  # what request(inspect=...) found, when the request changed a table

    def __str__(self) -> str:
        to = f" -> {self.location}" if self.location else ""
        return f"{self.method.upper()} {self.path} as {self.role}: {self.status}{to}"


def outcome_of(status: int, location: str) -> str:
    if status in (200, 201, 202, 204):
        return "ok"
    if status in (301, 302, 303, 307, 308):
        return "login" if location.startswith(LOGIN_PAGES) else "ok"
    if status == 401:
        return "login"
    if status in (403, 404):
        return "denied"
    if status == 400:
        return "invalid"
    return str(status)  # 405, 409, and anything unexpected (a 500 never matches a row)


@contextmanager
def quiet() -> Iterator[None]:
    """Thousands of refusals are the point here: don't log a warning for each one."""
    loggers = [logging.getLogger(name) for name in ("django.request", "django.security")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextmanager
def rolled_back() -> Iterator[list[str]]:
    """Run a request in a savepoint that is always rolled back; yield the tables it wrote to.

    Services open `atomic(durable=True)`; inside this block that is allowed exactly as it is
    inside the test's own transaction (Django's TestCase marks its blocks the same way).
    """
    writes: list[str] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        for match in WRITE_SQL.finditer(sql):
            if not UNWATCHED_TABLES.match(match["table"]):
                writes.append(match["table"])
        return execute(sql, params, many, context)

    atomic = transaction.atomic()
    atomic._from_testcase = True  # type: ignore[attr-defined]
    with atomic, connection.execute_wrapper(spy):
        try:
            yield writes
        finally:
            transaction.set_rollback(True)


def send(client: Client, method: str, path: str, body: Any = None, *, as_json: bool = True) -> Any:
    if method == "get":
        return client.get(path)
    if body is None:
        if method == "post":
            return client.post(path, data={})
        return getattr(client, method)(path, data="{}", content_type="application/json")
    if as_json:
        return getattr(client, method)(path, data=body, content_type="application/json")
    return getattr(client, method)(path, data=body)


def request(
    m: Matrix,
    role: str,
    route: Route,
    method: str,
    path: str,
    *,
    body: Any = None,
    as_json: bool = True,
    inspect: Callable[[], Any] | None = None,
) -> Cell:
    """Send one request as `role` and roll it back; say what it answered and what it changed.

    The checksum (every row of every table) is taken only when the request sent a write
    statement to a watched table: a request that sent none cannot have changed one.
    `inspect` runs after the request, before the rollback, when the request wrote anything.
    """
    client = m.client_for(role, route)
    cookies = client.cookies  # a logout or a new session must not outlive the rollback
    client.cookies = type(cookies)(cookies)
    inspected = None
    with quiet(), rolled_back() as writes:
        response = send(client, method, path, body, as_json=as_json)
        location = response.get("Location", "")
        outcome = outcome_of(response.status_code, location)
        changed: list[str] = []
        # A write let through may change what it likes; anything else must change nothing.
        if writes and (outcome != "ok" or method == "get" or inspect is not None):
            after = checksum()
            changed = sorted(t for t in m.baseline if m.baseline[t] != after.get(t))
            inspected = inspect() if inspect is not None and changed else None
    client.cookies = cookies
    return Cell(
        route=route.key,
        role=role,
        method=method,
        path=path,
        status=response.status_code,
        location=location,
        outcome=outcome,
        changed=changed,
        inspected=inspected,
    )


def routes(*, admin: bool) -> list[Route]:
    return [r for r in walk() if r.is_admin == admin]
