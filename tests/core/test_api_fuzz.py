"""Schemathesis against our own OpenAPI schema: every operation, once per role (plan item W3).

For each role (no token at all, then a token for each User.Role) every operation of
/api/schema/ is called in-process with requests generated from the schema: valid ones
(positive) and invalid ones (negative). Most of them name real objects of one seeded world (an
active voucher with its letter, claims, payout, reconciliation run, alert and report; an
application under review; the applicant's own draft), so that permission checks, validation
and the services are reached instead of a 404 for a made-up id.

Every response must pass these schemathesis checks:
  not_a_server_error            no 5xx
  status_code_conformance       the status is documented for the operation
  content_type_conformance      the Content-Type is documented for that status
  response_schema_conformance   the body matches the schema documented for that status
  ignored_auth                  a 2xx to a token answers 401/403 without it and with a bad one
and, without a token, every operation that needs authentication must answer 401.

Each example runs in a savepoint that is rolled back, so each sees the same world. The run is
bounded (PLAN) and derandomized: the same requests on every run. Figures per role (operations,
examples, requests including schemathesis' auth probes, statuses, failures by check) are
written to test-artifacts/security/schemathesis.json.
"""

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import User
from tests.artifacts import merge_artifact

ANONYMOUS = "anonymous"
ROLES = [ANONYMOUS, *User.Role.values]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
]
ANONYMOUS_CHECK = "anonymous_answered_401"
# Per operation and role: (mode, examples, put the world's ids in the path). The last line
# keeps generated ids (mostly unknown: 404); it runs only for operations with path parameters.
PLAN = [
    (GenerationMode.POSITIVE, 5, True),
    (GenerationMode.NEGATIVE, 4, True),
    (GenerationMode.POSITIVE, 1, False),
]
ARTIFACT = "security/schemathesis.json"
PATH_KEYS = {  # path parameter -> the world's key (tests/security/routes.py seeded_world)
    "alert_id": "alert",
    "application_id": "application",
    "assignment_id": "assignment",
    "claim_id": "claim",
    "document_id": "document",
    "letter_id": "letter",
    "number": "version_number",
    "organization_id": "organization",
    "payout_id": "payout",
    "program_id": "program",
    "provider_id": "provider",
    "reference": "letter_reference",
    "report_id": "report",
    "result_id": "result",
    "run_id": "run",
    "token_id": "token",
    "version": "letter_version",
    "voucher_id": "voucher",
}


class CountingApp:
    """The WSGI application, counting every request (schemathesis' auth probes included)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0

    def __call__(self, environ: dict, start_response: Any) -> Any:
        self.requests += 1
        return self.app(environ, start_response)


APP = CountingApp(get_wsgi_application())
schema = schemathesis.openapi.from_wsgi("/api/schema/", APP)


@contextmanager
def rolled_back() -> Iterator[None]:
    """A transaction that is always rolled back. Marked the way Django's TestCase marks its
    own, so that services declared atomic(durable=True) may run inside it."""
    block = transaction.atomic()
    block._from_testcase = True
    with block:
        yield
        transaction.set_rollback(True)


@contextmanager
def kept_connection() -> Iterator[None]:
    """Raw WSGI calls fire request_finished, which would close the connection (and with it the
    world's transaction); Django's own test client disconnects the same handler."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@dataclass
class World:
    media_root: str
    tokens: dict[str, str]  # role -> raw API token
    variants: list[dict[str, Any]]  # ids for the path: the voucher's, a draft's, one in review


def _build_world(media_root: str) -> World:
    from accounts.services import api_token_create
    from applicants import services as applicant_services
    from applicants.models import ApplicationVersion, Document
    from reports.models import Report
    from tests.factories import make_uscc, pdf_upload
    from tests.security.routes import seeded_world
    from vouchers.models import Program, ReviewAssignment, ScreeningResult

    seeded = seeded_world()
    users = seeded["users"]
    # The report was queued and no worker runs here: make it a minute old now rather than
    # some time during the run, so that whether it may be retried does not depend on timing.
    Report.objects.filter(pk=seeded["report"]).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )
    applicant = users[User.Role.APPLICANT]  # owns the organization of the active voucher
    organization = applicant_services.organization_create(
        actor=applicant,
        legal_name="Fuzz Draft Co",
        registration_scheme="cn_uscc",
        registration_number=make_uscc(777_001),
        region="CN-SH",
        incorporated_on=timezone.localdate() - timedelta(days=400),
        headcount=5,
    )
    draft = applicant_services.application_create(
        actor=applicant,
        organization_id=organization.pk,
        program_id=Program.objects.get(code="SH-2026-R1").pk,
    )
    document = applicant_services.document_add(
        actor=applicant, application_id=draft.pk, kind="business_licence", upload=pdf_upload()
    )
    assignment = (
        ReviewAssignment.objects.exclude(application_id=seeded["application"])
        .select_related("application")
        .first()
    )
    assert assignment is not None, "seed_demo has an application under review"
    in_review = assignment.application
    voucher_world = {k: v for k, v in seeded.items() if k not in ("users", "tokens")}
    variants = [
        voucher_world,
        {
            **voucher_world,
            "application": draft.pk,
            "document": document.pk,
            "organization": organization.pk,
        },
        {
            **voucher_world,
            "application": in_review.pk,
            "organization": in_review.organization_id,
            "assignment": assignment.pk,
            "document": Document.objects.filter(application=in_review).values("pk")[0]["pk"],
            "result": ScreeningResult.objects.filter(application=in_review).values("pk")[0]["pk"],
            "version_number": ApplicationVersion.objects.filter(application=in_review)
            .order_by("-number")
            .values("number")[0]["number"],
        },
    ]
    tokens = {
        role: api_token_create(user=user, name="fuzz", otp_verified=True)[1]
        for role, user in users.items()
    }
    return World(media_root=media_root, tokens=tokens, variants=variants)


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[World]:
    """One world for every role, built once and rolled back when the module is done."""
    media_root = str(tmp_path_factory.mktemp("fuzz-media"))
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media_root), rolled_back():
        yield _build_world(media_root)


@dataclass
class Figures:
    operations: int = 0
    examples: int = 0
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)  # check -> failing examples
    details: dict[str, str] = field(default_factory=dict)  # the first example of each failure
    tested: set[str] = field(default_factory=set)  # operations that got at least one example
    succeeded: set[str] = field(default_factory=set)  # operations that answered 2xx at least once
    unsatisfiable: list[str] = field(default_factory=list)  # no case could be generated


def _has_inputs(operation: Any) -> bool:
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody"))


def _examine(case: Any, role: str, headers: dict[str, str], figures: Figures) -> None:
    """Send one case (in a savepoint that is rolled back) and run every check on the answer."""
    label = case.operation.label
    with rolled_back():
        response = case.call(headers=headers)
        figures.examples += 1
        figures.tested.add(label)
        figures.statuses[response.status_code] += 1
        if 200 <= response.status_code < 300:
            figures.succeeded.add(label)
        for check in CHECKS:
            try:
                case.validate_response(
                    response,
                    checks=[check],
                    headers=headers,
                    transport_kwargs={"headers": dict(headers)},
                )
            except FailureGroup as group:
                figures.failures[check.__name__] += 1
                key = f"{role} {label} [{check.__name__}] {response.status_code}"
                figures.details.setdefault(
                    key,
                    f"{group.exceptions[0].title}: {group.exceptions[0].message[:300]}\n"
                    f"    {case.as_curl_command(headers=headers)[:400]}\n"
                    f"    {response.text[:300]!r}",
                )
        # A path the URL patterns cannot match (an id like "false") never reaches the operation.
        reached = not (case.meta and case.meta.is_negative_at(ParameterLocation.PATH))
        needs_auth = bool(case.operation.definition.raw.get("security"))
        if role == ANONYMOUS and reached and needs_auth and response.status_code != 401:
            figures.failures[ANONYMOUS_CHECK] += 1
            key = f"{role} {label} [{ANONYMOUS_CHECK}] {response.status_code}"
            figures.details.setdefault(key, response.text[:300])


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    world_ids: bool,
    role: str,
    world: World,
    figures: Figures,
) -> None:
    headers = {"Authorization": f"Token {world.tokens[role]}"} if role != ANONYMOUS else {}
    path_names = [p.name for p in operation.path_parameters]
    counter = iter(range(1_000_000))

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        variant = world.variants[next(counter) % len(world.variants)]
        if world_ids and not (case.meta and case.meta.is_negative_at(ParameterLocation.PATH)):
            for name in path_names:
                if variant.get(PATH_KEYS.get(name, "")) is not None:
                    case.path_parameters[name] = variant[PATH_KEYS[name]]
        _examine(case, role, headers, figures)

    try:
        run()
    except Unsatisfiable:
        figures.unsatisfiable.append(f"{operation.label} ({mode})")


def _write_figures(role: str, figures: Figures, seconds: float) -> None:
    """Merge this role's figures into the artifact (running one role updates only its entry)."""
    checks = [check.__name__ for check in CHECKS] + ([ANONYMOUS_CHECK] if role == ANONYMOUS else [])

    def update(data: dict[str, Any]) -> None:
        data["schema"] = "/api/schema/"
        data["plan"] = [
            {"mode": str(mode), "max_examples": n, "world_ids": world_ids}
            for mode, n, world_ids in PLAN
        ]
        data.setdefault("roles", {})[role] = {
            "operations": figures.operations,
            "operations_tested": len(figures.tested),
            "examples": figures.examples,
            "requests": figures.requests,
            "seconds": round(seconds, 1),
            "failures": {name: figures.failures[name] for name in checks},
            "statuses": {str(code): n for code, n in sorted(figures.statuses.items())},
            "operations_with_2xx": sorted(figures.succeeded),
            "not_generated": figures.unsatisfiable,
        }
        roles = data["roles"].values()
        data["totals"] = {
            key: sum(r[key] for r in roles) for key in ("examples", "requests", "seconds")
        } | {"failures": sum(sum(r["failures"].values()) for r in roles)}

    merge_artifact(ARTIFACT, update)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_api_answers_as_its_schema_says_for_every_role(
    role: str, world: World, settings: Any
) -> None:
    settings.MEDIA_ROOT = world.media_root  # where the world's letters and documents are
    figures = Figures()
    started, requests_before = time.monotonic(), APP.requests
    with kept_connection():
        for result in schema.get_all_operations():
            operation = result.ok()
            figures.operations += 1
            for mode, examples, world_ids in PLAN:
                if mode == GenerationMode.NEGATIVE and not _has_inputs(operation):
                    continue  # nothing to make invalid
                if world_ids or operation.path_parameters:
                    _fuzz(operation, mode, examples, world_ids, role, world, figures)
    figures.requests = APP.requests - requests_before
    _write_figures(role, figures, time.monotonic() - started)
    assert not figures.details, "\n".join(f"{k}: {v}" for k, v in figures.details.items())
    assert len(figures.tested) == figures.operations, figures.unsatisfiable
