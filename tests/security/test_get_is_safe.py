"""A GET changes nothing (W5): every URL pattern, as every role, with real ids.

For each request the SQL it runs is watched: an INSERT, UPDATE or DELETE on any table other
than the session and the audit trail (a download is audited: that is the GET's own record) is
a failure, and so is any 5xx. Row counts of every table are compared before and after the walk
as a second, coarser check. The auditor's read-only matrix (tests/core/test_auditor_matrix.py)
checks what each page shows; this checks that looking is harmless, for everyone.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client

from accounts.models import User
from tests.security.routes import Route, seeded_world, urls

pytestmark = pytest.mark.django_db

WRITE = re.compile(
    r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(?P<table>[\w.]+)\"?", re.IGNORECASE
)
# Writes a GET may make, each with the reason.
ALLOWED_TABLES = {
    "django_session": "the session itself (language, next URL, CSRF, 2FA enrolment secret)",
    "audit_auditevent": "a download or a refusal is audited: the GET's own record",
    "audit_auditstream": "the head of the audit chain, advanced with each event",
}
ROLES = [None, *User.Role]  # None: not logged in


@contextmanager
def watched_writes() -> Iterator[list[str]]:
    writes: list[str] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        for match in WRITE.finditer(sql):
            if match["table"] not in ALLOWED_TABLES:
                writes.append(f"{match['table']}: {sql[:120]}")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        yield writes


def row_counts() -> dict[str, int]:
    counts = {}
    for model in apps.get_models():
        table = model._meta.db_table
        if table not in ALLOWED_TABLES and not model._meta.proxy:
            counts[table] = model._default_manager.count()
    return counts


def walk(client: Client, routes: list[Route], statuses: dict | None = None) -> list[str]:
    problems = []
    for route in routes:
        with watched_writes() as writes:
            response = client.get(route.url)
        if statuses is not None:
            statuses[route.name] = response.status_code
        if writes:
            problems.append(f"GET {route.url} ({route.name}) wrote: {writes}")
        if response.status_code >= 500:
            problems.append(f"GET {route.url} ({route.name}) answered {response.status_code}")
    return problems


def _client(world: dict[str, Any], role: Any) -> Client:
    client = Client(raise_request_exception=False)
    if role is not None:
        client.force_login(world["users"][role])
    return client


@pytest.fixture
def world(settings: Any) -> dict[str, Any]:
    settings.TWO_FACTOR_REQUIRED = False  # staff sessions here are force-logged-in
    return seeded_world()


def test_every_route_is_known_to_the_walker(world):
    """A new route whose parameters the walker cannot fill would be walked as a 404 only."""
    guessed = [f"{r.route}: {r.unknown}" for r in urls(world) if r.unknown and not r.is_admin]
    assert not guessed, "add these parameters to tests/security/routes.py:\n" + "\n".join(guessed)


def test_get_changes_nothing_for_any_role(world):
    routes = [r for r in urls(world) if not r.is_admin]
    clients = {role: _client(world, role) for role in ROLES}  # logging in writes: not a GET
    before = row_counts()
    problems = []
    statuses: dict[Any, dict[str, int]] = {}
    for role, client in clients.items():
        seen = statuses.setdefault(role, {})
        problems += [f"[{role or 'anonymous'}] {p}" for p in walk(client, routes, seen)]
    after = row_counts()
    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    assert not problems, "\n".join(problems)
    assert not changed, changed
    # The ids are real: each role's own detail pages were rendered, not answered 404.
    for role, name in [
        (User.Role.APPLICANT, "applicants:application_detail"),
        (User.Role.APPLICANT, "applicants:voucher_detail"),
        (User.Role.APPLICANT, "applicants:letter_download"),
        (User.Role.REVIEWER, "officer:application_detail"),
        (User.Role.APPROVER, "officer:voucher_detail"),
        (User.Role.FINANCE, "finance:payout_detail"),
        (User.Role.PROVIDER, "provider:claim_detail"),
        (User.Role.AUDITOR, "audit:voucher_timeline"),
        (User.Role.AUDITOR, "reconciliation:run_detail"),
        (User.Role.AUDITOR, "api:voucher-ledger"),
        (User.Role.ADMIN, "api:application"),
    ]:
        assert statuses[role][name] == 200, (role, name, statuses[role][name])


def test_admin_get_changes_nothing(world):
    routes = [r for r in urls(world) if r.is_admin]
    assert len(routes) > 50  # every registered model's list, add, change, delete, history
    clients = {role: _client(world, role) for role in (None, User.Role.ADMIN, User.Role.REVIEWER)}
    before = row_counts()
    problems = []
    for role, client in clients.items():
        problems += [f"[{role or 'anonymous'}] {p}" for p in walk(client, routes)]
    assert not problems, "\n".join(problems)
    assert row_counts() == before


def test_the_walk_notices_a_write(world, monkeypatch):
    """The watcher itself works: a GET that writes is reported."""
    from django.contrib.auth import views as auth_views

    from accounts.models import User as Model

    original = auth_views.LoginView.get

    def writing_get(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        Model.objects.filter(pk=world["users"][User.Role.APPLICANT].pk).update(full_name="x")
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(auth_views.LoginView, "get", writing_get)
    login = [r for r in urls(world) if r.name == "accounts:login"]
    problems = walk(Client(), login)
    assert problems and "accounts_user" in problems[0]
