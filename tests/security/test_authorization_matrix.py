"""The authorization matrix (W1) and mass assignment (W2), generated from the URL configuration.

- Every URL pattern of the project has a row in tests/security/access.py (and every row a
  pattern): every role x every method resolves to exactly one expected outcome.
- Every pattern is asked with GET, POST, PUT, PATCH and DELETE by each of the 11 columns
  (anonymous; applicant A, the owner of the objects the ids name, and applicant B, asking for
  A's objects by their ids; the assigned reviewer and one who is not; approver; finance;
  staff of provider X, whose claims the ids name, and of provider Y; auditor; administrator),
  each request in a savepoint rolled back afterwards. The outcome must be the row's, and a
  request that was not let through ("ok") must have changed nothing: the checksum of every
  table (tests/core/test_auditor_matrix.py) before and after it. The admin site is one rule:
  only the administrator is let in; everyone else is sent to the admin login.
- Lists (every page and API endpoint without path parameters) asked by applicants A and B and
  providers X and Y show none of the other party's rows: ids in JSON, names and codes in HTML.
- Every API write, by every non-admin role, is sent the fields the system sets (cap, spent,
  status, owner, organization, program, provider, code, amounts...): none of them lands.

The figures are written to test-artifacts/security/authorization_matrix.json.
"""

import os
import re
import time
from collections import Counter
from typing import Any

import pytest
from django.db.models import DateTimeField, Model, Q
from django.utils import timezone

from accounts.models import ApiToken, User
from applicants.models import Application, Invitation, Membership, Organization
from audit.models import AuditEvent
from disbursement.models import (
    Alert,
    Claim,
    LedgerEntry,
    Payout,
    ProviderStaff,
    ReconciliationRun,
)
from reports.models import Report
from tests.artifacts import record_figures
from tests.core.test_auditor_matrix import REASON, VALID_BODIES, Route, walk
from tests.factories import pdf_upload
from tests.security.access import METHODS, ROLES, ROWS, expected, matches
from tests.security.conftest import PASSWORD
from tests.security.matrix_world import Cell, Matrix, request, routes
from tests.vouchers.conftest import SCORES
from vouchers.models import Program, Voucher

pytestmark = [pytest.mark.django_db]

ARTIFACT = "security/authorization_matrix.json"
REFUSED = {"denied", "login", "405"}


def record(section: str, figures: dict[str, Any]) -> None:
    """Merge this test's figures into the artifact (each test writes its own section)."""
    stamp = timezone.now().isoformat(timespec="seconds")
    record_figures(ARTIFACT, section, {**figures, "measured_at": stamp})


# --- the table covers the URL configuration ----------------------------------------------------


def test_every_url_pattern_has_a_row_and_every_row_a_pattern() -> None:
    patterns = list(walk())
    keys = {r.key for r in patterns}
    unlisted = sorted(
        f"{r.key} ({r.route})" for r in patterns if not r.is_admin and r.key not in ROWS
    )
    unnamed = sorted(r.route for r in patterns if not r.is_admin and not r.name)
    stale = sorted(name for name in ROWS if name not in keys)
    listed = [r for r in patterns if r.is_admin or r.key in ROWS]
    cells = sum(len(expected(r.key, is_admin=r.is_admin)) for r in listed)
    record(
        "routes",
        {
            "patterns": len(patterns),
            "admin_site_patterns": sum(r.is_admin for r in patterns),
            "rows": len(ROWS),
            "roles": len(ROLES),
            "methods": len(METHODS),
            "cases": cells,
            "unlisted_routes": len(unlisted),
            "rows_without_route": len(stale),
        },
    )
    assert not unnamed, f"give these URL patterns a name: {unnamed}"
    assert not unlisted, "add a row to tests/security/access.py for:\n" + "\n".join(unlisted)
    assert not stale, "these rows of tests/security/access.py name no URL pattern:\n" + "\n".join(
        stale
    )
    assert cells == len(patterns) * len(ROLES) * len(METHODS)


# --- the matrix ---------------------------------------------------------------------------------


def judge(cell: Cell, want: str) -> list[str]:
    found = []
    if not matches(want, cell.outcome):
        to = f" -> {cell.location}" if cell.location else ""
        found.append(f"{cell.route}: {cell}: expected {want}, got {cell.outcome}{to}")
    if cell.changed and (cell.outcome != "ok" or cell.method == "get"):
        found.append(f"{cell.route}: {cell}: not let through, yet CHANGED {cell.changed}")
    return found


# The admin site decides who is let in before it looks at the method (admin_site.admin_view),
# and its views tell only POST from GET: GET and POST to every admin pattern, as every role.
# AUTHZ_MATRIX_FULL=1 sends PUT, PATCH and DELETE too (the auditor's matrix always does).
ADMIN_METHODS = METHODS if os.environ.get("AUTHZ_MATRIX_FULL") == "1" else ("get", "post")


def walk_matrix(m: Matrix, patterns: list[Route]) -> tuple[list[str], Counter[str]]:
    problems: list[str] = []
    tally: Counter[str] = Counter()
    for route in patterns:
        path = m.world.path(route)
        want = expected(route.key, is_admin=route.is_admin)
        for role in ROLES:
            began = time.monotonic()
            for method in ADMIN_METHODS if route.is_admin else METHODS:
                cell = request(m, role, route, method, path)
                problems += judge(cell, want[role, method])
                tally["cases"] += 1
                tally[f"outcome:{cell.outcome}"] += 1
                if method != "get" and cell.outcome != "ok":
                    tally["refused_writes_unchanged"] += not cell.changed
            tally[f"ms:{role}"] += round((time.monotonic() - began) * 1000)
    return problems, tally


@pytest.mark.parametrize("admin_site", [False, True], ids=["site", "admin-site"])
def test_authorization_matrix(matrix: Matrix, admin_site: bool) -> None:
    # The columns are every role of the project, and only the administrator is staff.
    assert {r.split("_")[0] for r in ROLES[1:]} == set(User.Role.values)
    for column, user in matrix.users.items():
        assert (user is None) == (column == "anonymous")
        assert user is None or column.startswith(user.role), (column, user.role)
        assert user is None or user.is_staff == user.is_superuser == (column == "admin")
    started = time.monotonic()
    patterns = routes(admin=admin_site)
    problems, tally = walk_matrix(matrix, patterns)
    record(
        "matrix_admin_site" if admin_site else "matrix",
        {
            "routes": len(patterns),
            "roles": len(ROLES),
            **tally,
            "mismatches": len(problems),
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    assert not problems, f"{len(problems)} cells differ from tests/security/access.py:\n" + (
        "\n".join(problems)
    )


def test_the_matrix_notices_a_missing_permission_check(
    matrix: Matrix, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Take the money checks away (the view's and the service's): a reviewer then suspends the
    voucher, and the matrix says so: the wrong outcome, and a changed table."""
    import disbursement.policies
    import disbursement.services.vouchers

    route = next(r for r in walk() if r.key == "officer:voucher_suspend")
    path = matrix.world.path(route)
    want = expected(route.key, is_admin=False)["reviewer_assigned", "post"]
    body = {"suspend-reason": REASON}
    cell = request(matrix, "reviewer_assigned", route, "post", path, body=body, as_json=False)
    assert judge(cell, want) == []  # refused, as the row says
    for module in (disbursement.policies, disbursement.services.vouchers):
        monkeypatch.setattr(module, "allows", lambda user, action: True)
    voucher = matrix.extra["voucher_a"]
    cell = request(
        matrix,
        "reviewer_assigned",
        route,
        "post",
        path,
        body=body,
        as_json=False,
        inspect=lambda: Voucher.objects.get(pk=voucher.pk).status,
    )
    found = judge(cell, want)
    assert found and "expected denied, got ok" in found[0]
    assert "vouchers_voucher" in cell.changed and cell.inspected == Voucher.Status.SUSPENDED


# --- lists show nothing of the other party ------------------------------------------------------

# Which model the rows of each JSON list are (their "id").
LIST_MODELS: dict[str, type[Model]] = {
    "api:organizations": Organization,
    "api:applications": Application,
    "api:vouchers": Voucher,
    "api:claims": Claim,
    "api:payouts": Payout,
    "api:reconciliations": ReconciliationRun,
    "api:reports": Report,
    "api:auth-tokens": ApiToken,
    "api:alerts": Alert,
    "api:audit-events": AuditEvent,
}
PARTIES = {  # each party and the one whose rows it must not see
    "applicant_own": "applicant_other",
    "applicant_other": "applicant_own",
    "provider_own": "provider_other",
    "provider_other": "provider_own",
}


def _organization(m: Matrix, party: str) -> Organization:
    return (
        m.extra["organization_b"]
        if party == "applicant_other"
        else m.extra["voucher_a"].organization
    )


def _provider(m: Matrix, party: str) -> Any:
    return m.extra["provider_y"] if party == "provider_other" else m.extra["provider_x"]


def owned_rows(m: Matrix, party: str) -> dict[type[Model], set[int]]:
    """The rows that belong to `party`, by model."""
    user = m.users[party]
    assert user is not None
    mine = {ApiToken: Q(user=user), Report: Q(requested_by=user)}
    if party.startswith("applicant"):
        org = _organization(m, party)
        mine |= {
            Organization: Q(pk=org.pk),
            Application: Q(organization=org),
            Voucher: Q(organization=org),
            Claim: Q(voucher__organization=org),
        }
    else:
        provider = _provider(m, party)
        mine |= {
            Claim: Q(provider=provider),
            Payout: Q(provider=provider),
            ReconciliationRun: Q(provider=provider),
        }
    return {
        model: set(model.objects.filter(q).values_list("pk", flat=True))
        for model, q in mine.items()
    }


def owned_words(m: Matrix, party: str) -> set[str]:
    """Names and codes that identify `party`'s rows on a page."""
    user = m.users[party]
    assert user is not None
    words = {user.email}
    if party.startswith("applicant"):
        org = _organization(m, party)
        words |= {org.legal_name, org.registration_number}
        words |= set(Voucher.objects.filter(organization=org).values_list("code", flat=True))
        words |= set(
            Application.objects.filter(organization=org).values_list("reference", flat=True)
        )
    else:
        provider = _provider(m, party)
        words |= {provider.short_name, provider.legal_name}
        for reference, invoice in Claim.objects.filter(provider=provider).values_list(
            "provider_reference", "invoice_number"
        ):
            words |= {reference, invoice}
        words |= set(Payout.objects.filter(provider=provider).values_list("reference", flat=True))
    return {w for w in words if w}


def _ids(payload: Any) -> list[int]:
    rows = payload.get("results", payload) if isinstance(payload, dict) else payload
    if not isinstance(rows, list):
        return []
    return [row["id"] for row in rows if isinstance(row, dict) and "id" in row]


def test_lists_show_nothing_of_the_other_party(matrix: Matrix) -> None:
    public = {
        name
        for name, row in ROWS.items()
        if expected(name, is_admin=False)["anonymous", "get"] == "ok"
    }
    lists = [r for r in routes(admin=False) if "<" not in r.route and r.key not in public]
    assert {r.key for r in lists} >= set(LIST_MODELS)
    found: list[str] = []
    tally: Counter[str] = Counter()
    seen_own: dict[str, set[str]] = {party: set() for party in PARTIES}
    for party, other in PARTIES.items():
        foreign_rows, own_rows = owned_rows(matrix, other), owned_rows(matrix, party)
        foreign_words = owned_words(matrix, other) - owned_words(matrix, party)
        words = re.compile("|".join(rf"(?<![\w-]){re.escape(w)}(?![\w-])" for w in foreign_words))
        client = matrix.clients[party]
        for route in lists:
            response = client.get("/" + route.route)
            if response.status_code != 200 or response.streaming:
                continue
            tally["lists_read"] += 1
            body = response.content.decode()
            if route.key.startswith("api:") and response["Content-Type"].startswith(
                "application/json"
            ):
                ids = _ids(response.json())
                if ids and route.key not in LIST_MODELS:
                    found.append(f"{route.key}: say which model its rows are (LIST_MODELS)")
                    continue
                model = LIST_MODELS.get(route.key)
                tally["json_rows_checked"] += len(ids)
                leaked = sorted(set(ids) & foreign_rows.get(model, set())) if model else []
                found += [
                    f"{party} sees {other}'s {model.__name__} {pk} in {route.key}" for pk in leaked
                ]  # type: ignore[union-attr]
                if model is not None and set(ids) & own_rows.get(model, set()):
                    seen_own[party].add(route.key)
            tally["pages_checked"] += 1
            for match in sorted(set(words.findall(body))):
                found.append(f"{party} sees {other}'s {match!r} on {route.key} (/{route.route})")
    tally["foreign_rows_found"] = len(found)
    record("list_leak", {"viewers": len(PARTIES), "list_routes": len(lists), **tally})
    assert not found, "\n".join(found)
    # The lists are not empty: each party sees its own rows where it has some.
    assert {"api:vouchers", "api:applications", "api:organizations", "api:claims"} <= seen_own[
        "applicant_own"
    ]
    assert {"api:vouchers", "api:applications", "api:organizations"} <= seen_own["applicant_other"]
    for party in ("provider_own", "provider_other"):
        assert {"api:claims", "api:payouts", "api:auth-tokens"} <= seen_own[party], seen_own[party]


# --- mass assignment ------------------------------------------------------------------------------

FORGED_CENTS = 987_654_321
FORGED_MONEY = "9876543.21"
# Rows whose every column (but timestamps) must stay as they were, unless the request, sent
# without the forged field, changes them too: then the field was ignored, which is fine.
PROTECTED: tuple[type[Model], ...] = (
    User,
    Organization,
    Membership,
    Invitation,
    Application,
    Program,
    Voucher,
    LedgerEntry,
    Claim,
    Payout,
    ProviderStaff,
    Report,
    ApiToken,
)


def forged_fields(m: Matrix, role: str) -> dict[str, Any]:
    """What a caller might try to set that only the system sets, pointing at others' rows."""
    attacker = m.users[role]
    theirs = "applicant_own" if role == "applicant_other" else "applicant_other"
    other_provider = "provider_other" if role == "provider_own" else "provider_own"
    other_voucher = m.extra["voucher_a"] if role == "applicant_other" else m.extra["voucher_b"]
    return {
        "cap_cents": FORGED_CENTS,
        "spent_cents": FORGED_CENTS,
        "cap": FORGED_MONEY,
        "spent": FORGED_MONEY,
        "amount_cents": FORGED_CENTS,
        "subsidy": FORGED_MONEY,
        "committed_cents": FORGED_CENTS,
        "budget_cents": FORGED_CENTS,
        "status": "revoked",
        "code": "CV-FORGED-0001",
        "owner": attacker.pk if attacker else 1,
        "created_by": attacker.pk if attacker else 1,
        "requested_by": attacker.pk if attacker else 1,
        "organization": _organization(m, theirs).pk,
        "program": m.extra["program_2"].pk,
        "provider": _provider(m, other_provider).pk,
        "voucher": other_voucher.pk,
        "role": "admin",
        "is_staff": True,
    }


def legit_body(m: Matrix, name: str, role: str) -> dict[str, Any]:
    """A body the route accepts from someone allowed (the forged fields are added to it).
    Made afresh for each request: an upload is read once."""
    w = m.world
    own_org = _organization(m, role if role.startswith("applicant") else "applicant_own")
    voucher = m.extra["voucher_b"] if role == "applicant_other" else m.extra["voucher_a"]
    today = timezone.localdate().isoformat()
    user = m.users[role]
    bodies: dict[str, Any] = {
        "api:auth-register": lambda: {
            "email": "newcomer@example.com",
            "password": "a-long-enough-password-42",
            "full_name": "New Comer",
        },
        "api:auth-token-create": lambda: {
            "email": user.email if user else "nobody@example.com",
            "password": PASSWORD,
        },
        "api:organizations": lambda: VALID_BODIES["api:organizations"](w)[1],
        "api:organization": lambda: {"headcount": 21},
        "api:organization-invitations": lambda: {"email": "invitee@example.com"},
        "api:invitation-accept": lambda: {"token": w.ids["invitation_token"]},
        "api:applications": lambda: {"organization": own_org.pk, "program": w.ids["program_id"]},
        "api:application": lambda: {"title": "A better title"},
        "api:application-documents": lambda: {"kind": "business_licence", "file": pdf_upload()},
        "api:application-return": lambda: {"message": REASON},
        "api:application-conflict": lambda: {"has_conflict": False},
        "api:application-screening-override": lambda: {"justification": REASON},
        "api:application-assignments": lambda: {"reviewer": m.users["reviewer_other"].pk},  # type: ignore[union-attr]
        "api:application-reviews": lambda: {
            "scores": SCORES,
            "recommendation": "fund",
            "comments": REASON,
        },
        "api:application-approve": lambda: {"amount": "150000.00"},
        "api:application-reject": lambda: {"reasons": REASON},
        "api:voucher-letters": lambda: {"reason": REASON},
        "api:claims": lambda: {
            "voucher_code": m.extra["voucher_a"].code,
            "reference": "MASS-1",
            "invoice_number": "MASS-INV-1",
            "invoice_total": "100.00",
            "currency": m.extra["voucher_a"].currency,
            "service_period_start": today,
            "service_period_end": today,
            "lines": [{"chip_origin": "domestic", "gpu_hours": "1.0", "amount": "100.00"}],
        },
        "api:claim-reverse": lambda: {"reason": REASON},
        "api:voucher-clawback": lambda: {"amount": "1.00", "reason": REASON},
        "api:voucher-suspend": lambda: {"reason": REASON},
        "api:voucher-reinstate": lambda: {"reason": REASON},
        "api:payouts": lambda: {"provider": m.extra["provider_x"].pk},
        "api:payout-paid": lambda: {"bank_reference": "BANK-REF-0001"},
        "api:reports": lambda: {"kind": "voucher_statement", "voucher": voucher.pk},
    }
    return dict(bodies[name]()) if name in bodies else {}


# Edited on A's draft rather than on A's decided application (which refuses every edit).
ON_THE_DRAFT = {
    "api:application",
    "api:application-documents",
    "api:application-submit",
    "api:application-withdraw",
}


def protected_state(baseline: dict[str, set[int]] | None = None) -> dict[str, Any]:
    """Every column but timestamps of every protected row that existed at `baseline`, and, per
    model, the rows made since (as dicts)."""
    state: dict[str, Any] = {}
    for model in PROTECTED:
        fields = [
            f.attname for f in model._meta.concrete_fields if not isinstance(f, DateTimeField)
        ]
        label = model._meta.label
        old = baseline[label] if baseline is not None else None
        for row in model._default_manager.values(*fields):
            if old is None or row["id"] in old:
                state[f"{label}:{row['id']}"] = row
            else:
                state.setdefault(f"{label}:new", []).append(row)
    return state


def landed(new_rows: dict[str, Any], field: str, value: Any) -> list[str]:
    """New rows that carry a forged value in a column of that name."""
    hits = []
    wanted = FORGED_CENTS if value == FORGED_MONEY else value
    for key, rows in new_rows.items():
        if not key.endswith(":new"):
            continue
        for row in rows:
            for column in (field, f"{field}_id", f"{field}_cents"):
                if column in row and row[column] == wanted and row[column] is not None:
                    hits.append(f"{key[:-4]} {column}={wanted!r}")
    return hits


def _existing(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if not k.endswith(":new")}


def _new_counts(state: dict[str, Any]) -> dict[str, int]:
    return {k: len(v) for k, v in state.items() if k.endswith(":new")}


def write_targets() -> list[tuple[Route, str]]:
    """Every API pattern and method that takes a body (POST, PUT, PATCH) from some role, and
    PUT/PATCH of the objects whose money and status only the system sets."""
    targets = []
    for route in routes(admin=False):
        if not route.key.startswith("api:"):
            continue
        want = expected(route.key, is_admin=False)
        for method in ("post", "put", "patch"):
            takes = any(want[role, method] not in REFUSED for role in ROLES)
            if takes or route.key in ("api:voucher", "api:claim", "api:payout", "api:me"):
                targets.append((route, method))
    return targets


class Protected:
    """The protected rows as they were before the requests, and a way to read them again."""

    def __init__(self) -> None:
        self.pks = {
            m._meta.label: set(m._default_manager.values_list("pk", flat=True)) for m in PROTECTED
        }
        self.baseline = protected_state(self.pks)

    def read(self) -> dict[str, Any]:
        return protected_state(self.pks)


# Uploads: these take a multipart form, not JSON (JSON gets a 415 and would test nothing).
MULTIPART = {"api:application-documents", "api:provider-statements"}


def check_target(
    m: Matrix, route: Route, method: str, role: str, p: Protected, tally: Counter[str]
) -> list[str]:
    """Send `route` the system's fields as `role`: none may land."""
    path = m.world.path(route)
    if route.key in ON_THE_DRAFT:
        decided, draft = m.world.ids["application_id"], m.extra["draft_a"].pk
        path = path.replace(f"/applications/{decided}/", f"/applications/{draft}/")
    form = {"as_json": route.key not in MULTIPART}
    legit = legit_body(m, route.key, role)
    forged = {k: v for k, v in forged_fields(m, role).items() if k not in legit}
    where = f"{method.upper()} {path} ({route.key}) as {role}"
    if expected(route.key, is_admin=False)[role, method] in REFUSED:
        # Refused before the input is read: all the fields at once, and nothing moves.
        cell = request(m, role, route, method, path, body={**legit, **forged}, **form)
        tally["requests"] += 1
        tally["fields_tried"] += len(forged)
        if cell.outcome not in REFUSED or cell.changed:
            tally["fields_changed"] += bool(cell.changed)
            return [f"{where}: {cell.status}, changed {cell.changed}"]
        return []
    # Let through: one field at a time on top of a body that is accepted without it. The rows
    # must then be as before (the request refused: 400 for a field it does not take) or as
    # the same request without the field leaves them (the field ignored).
    found = []
    control = request(m, role, route, method, path, body=legit, inspect=p.read, **form)
    tally[f"control:{control.outcome}"] += 1
    allowed = [p.baseline, control.inspected or p.baseline]
    for name, value in forged.items():
        body = {**legit_body(m, route.key, role), name: value}
        cell = request(m, role, route, method, path, body=body, inspect=p.read, **form)
        tally["requests"] += 1
        tally["fields_tried"] += 1
        tally[f"status:{cell.status}"] += 1
        state = cell.inspected or p.baseline
        if cell.status >= 500:
            found.append(f"{where} with {name!r}: {cell.status}")
        hits = landed(state, name, value)
        same = any(
            _existing(state) == _existing(ok) and _new_counts(state) == _new_counts(ok)
            for ok in allowed
        )
        if hits or not same:
            tally["fields_changed"] += 1
            found.append(f"{where}: {name}={value!r} landed: {hits or 'rows differ'}")
    return found


def test_no_role_sets_what_the_system_sets(matrix: Matrix) -> None:
    started = time.monotonic()
    protected = Protected()
    found: list[str] = []
    tally: Counter[str] = Counter({"fields_changed": 0})
    roles = [r for r in ROLES if r != "admin"]
    targets = write_targets()
    for route, method in targets:
        for role in roles:
            found += check_target(matrix, route, method, role, protected, tally)
    record(
        "mass_assignment",
        {
            "targets": len(targets),
            "roles": len(roles),
            **tally,
            "problems": len(found),
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    assert not found, "\n".join(found)


def test_the_mass_assignment_check_notices_a_field_that_lands(
    matrix: Matrix, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An organization update that writes a field it was sent into a row (as a careless view
    or serializer would), and then refuses the request, is caught."""
    from applicants import apis

    route = next(r for r in walk() if r.key == "api:organization")
    original = apis.OrganizationDetailApi.patch

    def careless(self: Any, request_: Any, organization_id: int) -> Any:
        if "cap_cents" in request_.data:
            Voucher.objects.filter(organization_id=organization_id).update(
                cap_cents=request_.data["cap_cents"]
            )
        return original(self, request_, organization_id)

    protected = Protected()
    assert check_target(matrix, route, "patch", "applicant_own", protected, Counter()) == []
    monkeypatch.setattr(apis.OrganizationDetailApi, "patch", careless)
    found = check_target(matrix, route, "patch", "applicant_own", protected, Counter())
    assert found == [
        f"PATCH {matrix.world.path(route)} (api:organization) as applicant_own: "
        f"cap_cents={FORGED_CENTS!r} landed: rows differ"
    ]
