"""Benchmark: the busiest pages and API lists at 100,000 applications.

The applicant's dashboard and page, the applications API (list, filters, search, detail), the
officer list and page, the officers' work queues (screening, review, decision) and the page of
an application waiting for a decision as its approver sees it.

Creates its own PostgreSQL database (dropped and recreated each run), migrates and seeds it
with COPY, serves the project with gunicorn (one worker per core) and puts the same concurrent
keep-alive load on each page and on a baseline view that does one indexed query, in the same run.

    python bench/pages.py            # 100,000 applications across 20,000 organizations
    python bench/pages.py --quick    # 5,000 across 1,000, short load: under a minute
    python bench/pages.py --applications 200000 --organizations 40000 --seconds 20 --concurrency 16

Ends with exactly one line:
    RESULT pages dashboard_rps=... list_api_rps=... detail_rps=... baseline=... ratio=...
where ratio = (slowest page's requests per second) / (baseline's requests per second).
The server is PostgreSQL from DATABASE_URL (its host, another database name) or
postgres@127.0.0.1:5432; BENCH_DATABASE_URL names the database outright.
"""

import argparse
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

# Share of applications per status (sums to 100). Drafts are invisible to officers.
STATUS_WEIGHTS = {
    "draft": 8,
    "submitted": 22,
    "screening": 10,
    "in_review": 20,
    "returned": 5,
    "approved": 15,
    "rejected": 12,
    "withdrawn": 8,
}
OPEN_PROGRAMS = 4
# Of the applications in review, those with id % 5 < READY_FIFTHS have their review in and are
# ready for a decision (the decision queue); the others still wait for a review.
READY_FIFTHS = 2
RUBRIC = [("innovation", "Innovation", 40), ("team", "Team", 30), ("compute_plan", "Plan", 30)]
CITIES = ["Shanghai", "Beijing", "Shenzhen", "Hangzhou", "Suzhou", "Nanjing", "Chengdu", "Wuhan"]
NAMES = """
    Aurora Beacon Cedar Delta Ember Falcon Granite Harbor Iris Jade Kestrel Lumen Meridian Nimbus
    Orchid Pioneer Quartz Radiant Summit Tidal Umber Vertex Willow Xenon Yonder Zenith Atlas Boreal
    Cobalt Dynamo Echo Flux Gauss Helix Ion Juniper Krypton Lattice Magnet Nova Onyx Photon Quasar
    Rhombus Sigma Tensor Unity Vector Wavelet Axiom Byte Cipher Datum Epoch Fermi Graph Hertz Index
""".split()
APPLICANT_EMAIL, OFFICER_EMAIL = "applicant@bench.example", "officer@bench.example"
APPROVER_EMAIL = "approver@bench.example"
PASSWORD = "bench-password-2026"  # noqa: S105  (a throw-away database)
SEARCH_TERM = "Lumen"  # one of NAMES: matches about 1/60 of organizations
TOPICS = [
    "Legal LLM",
    "Protein folding",
    "Speech recognition",
    "Autonomous driving perception",
    "Medical imaging",
    "Code assistant",
    "Climate downscaling",
    "Retail forecasting",
    "Chip design agent",
    "Robot manipulation",
    "Machine translation",
    "Video generation",
]
DOMAINS = [
    "contract review",
    "drug discovery",
    "dialects",
    "logistics",
    "radiology",
    "finance",
    "agriculture",
    "education",
    "manufacturing",
    "customer service",
]
CHIPS = [
    ("Ascend 910B", "domestic"),
    ("H20", "foreign"),
    ("MLU370", "domestic"),
    ("mixed fleet", "mixed"),
]


Event = tuple[str, datetime, Any, dict[str, Any]]  # action, when, actor, data


@dataclass
class Seeded:
    applicant: Any
    officer: Any  # a reviewer
    own_application_id: int
    approver: Any = None
    decision_application_id: int = 0  # in the decision queue, reviewed, approver declared
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    key: str
    path: str
    headers: dict[str, str]


def uscc(n: int) -> str:
    """A valid unified social credit code, distinct for each n (as tests/factories.py)."""
    from applicants.uscc import ALPHABET, check_character

    digits = ""
    for _ in range(9):
        n, r = divmod(n, len(ALPHABET))
        digits += ALPHABET[r]
    first17 = "91310000" + digits
    return first17 + check_character(first17)


# --- Seeding ----------------------------------------------------------------------------------


def _catalogue(now: datetime, n_programs: int) -> tuple[list[Any], list[Any]]:
    from disbursement.models import Provider
    from vouchers.models import Program, RubricCriterion

    providers = Provider.objects.bulk_create(
        [
            Provider(
                short_name=f"Bench DC {i}",
                legal_name=f"Bench Data Centre {i} Co., Ltd.",
                registration_number=uscc(900_000 + i),
                region="CN-SH",
                chip_origins=["domestic", "foreign"],
            )
            for i in range(8)
        ]
    )
    programs = []
    for i in range(n_programs):
        # A few rounds open now; the rest are past rounds, one a month.
        opens = now - timedelta(days=20 if i < OPEN_PROGRAMS else 60 + 30 * i)
        programs.append(
            Program(
                code=f"BP-R{i:03d}",
                slug=f"bench-round-{i}",
                name=f"Compute voucher round {i}",
                summary="Vouchers for GPU compute at approved data centres.",
                region="CN-SH",
                currency="CNY",
                budget_cents=500_000_000_00,
                award_floor_cents=140_000_00,
                award_ceiling_cents=280_000_00,
                allowed_regions=["CN-SH", "CN-JS", "CN-ZJ"],
                opens_at=opens,
                closes_at=opens + timedelta(days=60 if i < OPEN_PROGRAMS else 45),
                is_published=True,
            )
        )
    programs = Program.objects.bulk_create(programs)
    through = Program.approved_providers.through
    through.objects.bulk_create(
        [
            through(program_id=p.pk, provider_id=providers[(p.pk + k) % len(providers)].pk)
            for p in programs
            for k in range(3)
        ]
    )
    RubricCriterion.objects.bulk_create(
        RubricCriterion(program=p, code=code, name=name, weight=weight, max_score=5, position=i)
        for p in programs
        for i, (code, name, weight) in enumerate(RUBRIC)
    )
    return providers, programs


def _people(
    now: datetime, organizations: int, rng: random.Random
) -> tuple[Any, Any, Any, list[Any]]:
    """The measured applicant, reviewer and approver, then one founder (owner) per other
    organization."""
    from accounts.models import User

    applicant = User.objects.create_user(
        email=APPLICANT_EMAIL,
        password=PASSWORD,
        full_name="Bench Applicant",
        role=User.Role.APPLICANT,
        email_verified_at=now,
    )
    officer = User.objects.create_user(
        email=OFFICER_EMAIL,
        password=PASSWORD,
        full_name="Bench Officer",
        role=User.Role.REVIEWER,
        email_verified_at=now,
    )
    approver = User.objects.create_user(
        email=APPROVER_EMAIL,
        password=PASSWORD,
        full_name="Bench Approver",
        role=User.Role.APPROVER,
        email_verified_at=now,
    )
    founders = [
        User(
            id=approver.pk + i,
            email=f"founder{i}@bench.example",
            full_name=f"Founder {i}",
            password="!bench-unusable",  # noqa: S106  ("!" marks an unusable password)
            role=User.Role.APPLICANT,
            email_verified_at=now,
            date_joined=now - timedelta(days=rng.uniform(30, 900)),
        )
        for i in range(1, organizations)
    ]
    common.copy_objects(founders)
    return applicant, officer, approver, [applicant, *founders]


def _organizations(now: datetime, owners: list[Any], rng: random.Random) -> list[Any]:
    from applicants.models import Membership, Organization

    orgs = []
    for i, owner in enumerate(owners, start=1):
        created = owner.date_joined
        name = f"{rng.choice(CITIES)} {rng.choice(NAMES)} {rng.choice(NAMES)} Technology Co., Ltd."
        orgs.append(
            Organization(
                id=i,
                legal_name=name,
                registration_number=uscc(i),
                region=rng.choice(["CN-SH", "CN-SH", "CN-JS", "CN-ZJ"]),
                incorporated_on=(now - timedelta(days=rng.uniform(200, 3000))).date(),
                headcount=rng.randint(3, 300),
                annual_revenue_cents=rng.randint(0, 50_000_000_00),
                created_by_id=owner.pk,
                created_at=created,
                updated_at=created,
            )
        )
    common.copy_objects(orgs)
    common.copy_objects(
        [
            Membership(
                id=i,
                organization_id=i,
                user_id=owner.pk,
                role=Membership.Role.OWNER,
                created_at=owner.date_joined,
                updated_at=owner.date_joined,
            )
            for i, owner in enumerate(owners, start=1)
        ]
    )
    return orgs


def _application(
    app_id: int,
    org: Any,
    owner: Any,
    program: Any,
    status: str,
    provider: Any,
    now: datetime,
    rng: random.Random,
) -> Any:
    from applicants.models import Application

    draft = status == "draft"
    ready = status == "in_review" and app_id % 5 < READY_FIFTHS
    created = now - timedelta(days=rng.uniform(1, 720))
    submitted = None if draft else min(now, created + timedelta(days=rng.uniform(0.1, 20)))
    updated = min(now, (submitted or created) + timedelta(days=rng.uniform(0, 30)))
    gpu_model, chip = rng.choice(CHIPS)
    topic = f"{rng.choice(TOPICS)} for {rng.choice(DOMAINS)}"
    return Application(
        id=app_id,
        organization=org,
        program=program,
        reference=f"{program.code}-{app_id:06d}",
        status=status,
        version=0 if draft else 1,
        currency=program.currency,
        title=topic,
        summary=f"We will train and evaluate models for {topic.lower()}.",
        description=(
            f"{topic}. " + "Data collection, training, evaluation and deployment. " * 8
        ).strip(),
        gpu_hours=None if draft else rng.randint(5_000, 80_000),
        gpu_model="" if draft else gpu_model,
        chip_origin="" if draft else chip,
        intended_provider=None if draft else provider,
        compute_plan="" if draft else "64 cards for 30 days, then 16 cards for inference tests.",
        requested_amount_cents=None if draft else rng.randint(1_400, 2_800) * 100_00,
        declares_truthful=not draft,
        declares_no_double_funding=not draft,
        declares_no_provider_affiliation=not draft,
        declared_by_name="" if draft else owner.full_name,
        declared_at=submitted,
        submitted_at=submitted,
        reviews_completed=1 if ready else 0,
        ready_for_decision=ready,
        returned_at=updated if status == "returned" else None,
        return_message="Please attach the provider's quotation." if status == "returned" else "",
        withdrawn_at=updated if status == "withdrawn" else None,
        withdraw_reason="Funded elsewhere." if status == "withdrawn" else "",
        created_by_id=owner.pk,
        created_at=created,
        updated_at=updated,
    )


def _history(app: Any, owner: Any, officer: Any) -> tuple[Any, list[Event]]:
    """The submitted version (None for a draft) and the audit events the services would write."""
    from applicants.models import ApplicationVersion
    from applicants.rules import snapshot, snapshot_sha256

    created = {"program": app.program.code, "organization": app.organization.registration_number}
    events: list[Event] = [("application.created", app.created_at, owner, created)]
    if app.status == "draft":
        return None, events
    data = snapshot(app, [])
    version = ApplicationVersion(
        id=app.pk,
        application=app,
        number=1,
        receipt_number=f"{app.reference}-V1",
        snapshot=data,
        content_sha256=snapshot_sha256(data),
        submitted_at=app.submitted_at,
        submitted_by_id=owner.pk,
        created_at=app.submitted_at,
        updated_at=app.submitted_at,
    )
    submitted = {
        "status": {"before": "draft", "after": "submitted"},
        "version": 1,
        "receipt": version.receipt_number,
        "content_sha256": version.content_sha256,
    }
    events.append(("application.submitted", app.submitted_at, owner, submitted))
    if app.status == "returned":
        returned = {"status": {"before": "in_review", "after": "returned"}}
        returned["message"] = app.return_message
        events.append(("application.returned", app.returned_at, officer, returned))
    if app.status == "withdrawn":
        withdrawn = {"status": {"before": "submitted", "after": "withdrawn"}}
        withdrawn["reason"] = app.withdraw_reason
        events.append(("application.withdrawn", app.withdrawn_at, owner, withdrawn))
    return version, events


def _audit_rows(app: Any, events: list[Event], next_id: int) -> tuple[list[Any], Any]:
    """Hash-chained events (verify_audit_chain accepts them) and the stream head."""
    from audit.models import AuditEvent, AuditStream
    from audit.services import event_hash

    stream, prev, rows = f"applicants.application:{app.pk}", "", []
    for seq, (action, at, actor, data) in enumerate(events, start=1):
        digest = event_hash(
            stream=stream,
            seq=seq,
            occurred_at=at,
            actor_id=actor.pk,
            action=action,
            target_type="applicants.application",
            target_id=str(app.pk),
            data=data,
            ip=None,
            prev_hash=prev,
        )
        rows.append(
            AuditEvent(
                id=next_id + seq - 1,
                stream=stream,
                seq=seq,
                occurred_at=at,
                actor_id=actor.pk,
                actor_label=actor.email,
                action=action,
                target_type="applicants.application",
                target_id=str(app.pk),
                target_label=app.reference,
                data=data,
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest
    head = AuditStream(
        id=app.pk, key=stream, last_seq=len(events), last_hash=prev, updated_at=events[-1][1]
    )
    return rows, head


def _decision_stage(
    ready: list[tuple[int, datetime]], reviewer: Any, approver: Any, measured: tuple[int, datetime]
) -> int:
    """For every application ready for a decision, what the review stage left: both officers'
    no-conflict declarations, the reviewer's assignment (made by the approver) and review; for
    the first one also its screening results. Both officers also declared no conflict on the
    `measured` application (the officer pages of application 1: without a declaration they
    show only the conflict-of-interest gate). Returns the first one's id (0: there is none)."""
    from vouchers.models import (
        ConflictDeclaration,
        Review,
        ReviewAssignment,
        ScreeningResult,
        ScreeningRule,
    )

    declarations, assignments, reviews = [], [], []
    scores = {code: 4 for code, _name, _weight in RUBRIC}
    for n, (app_id, at) in enumerate(ready):
        stamps = {"created_at": at, "updated_at": at}
        for k, officer in enumerate((reviewer, approver)):
            declarations.append(
                ConflictDeclaration(
                    id=2 * n + k + 1,
                    application_id=app_id,
                    officer_id=officer.pk,
                    has_conflict=False,
                    note="",
                    **stamps,
                )
            )
        assignments.append(
            ReviewAssignment(
                id=n + 1,
                application_id=app_id,
                reviewer_id=reviewer.pk,
                assigned_by_id=approver.pk,
                removed_at=None,
                removal_reason="",
                **stamps,
            )
        )
        reviews.append(
            Review(
                id=n + 1,
                application_id=app_id,
                version=1,
                reviewer_id=reviewer.pk,
                scores=scores,
                weighted_score_bps=8_000,
                recommendation="fund",
                recommended_amount_cents=None,
                comments="Credible team, clear compute plan, realistic budget.",
                **stamps,
            )
        )
    if measured[0] not in {app_id for app_id, _at in ready}:
        for officer in (reviewer, approver):
            declarations.append(
                ConflictDeclaration(
                    id=len(declarations) + 1,
                    application_id=measured[0],
                    officer_id=officer.pk,
                    has_conflict=False,
                    note="",
                    created_at=measured[1],
                    updated_at=measured[1],
                )
            )
    common.copy_objects(declarations)
    common.copy_objects(assignments)
    common.copy_objects(reviews)
    common.reset_sequences([ConflictDeclaration, ReviewAssignment, Review])
    if not ready:
        return 0
    app_id, at = ready[0]
    common.copy_objects(
        [
            ScreeningResult(
                id=i,
                application_id=app_id,
                version=1,
                rule=rule,
                passed=True,
                parameter={},
                observed={},
                overridden_by_id=None,
                overridden_at=None,
                override_justification="",
                created_at=at,
                updated_at=at,
            )
            for i, rule in enumerate(ScreeningRule.values, start=1)
        ]
    )
    common.reset_sequences([ScreeningResult])
    return app_id


def seed(*, applications: int, organizations: int, own: int) -> Seeded:
    """Seed everything with COPY. Org 1 belongs to the measured applicant and gets `own`
    applications, one per program; every other organization gets its share, each in a different
    program (the database allows one open application per organization and program)."""
    from django.utils import timezone

    from accounts.models import User
    from applicants.models import Application, ApplicationVersion, Membership, Organization
    from audit.models import AuditEvent, AuditStream

    if organizations < 2 or applications <= own:
        raise SystemExit("need at least 2 organizations and more applications than --own")
    rng = random.Random(2026)  # noqa: S311  (reproducible data, not secrets)
    now = timezone.now()
    per_org = -(-(applications - own) // (organizations - 1))
    providers, programs = _catalogue(now, max(40, own, per_org + 1))
    applicant, officer, approver, owners = _people(now, organizations, rng)
    orgs = _organizations(now, owners, rng)
    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    counts = {
        "organizations": organizations,
        "programs": len(programs),
        "applications": applications,
    }
    event_id, batch = 1, 10_000
    ready: list[tuple[int, datetime]] = []  # (id, updated_at) of those ready for a decision
    measured: tuple[int, datetime] = (1, now)  # application 1 and its submission time
    for start in range(0, applications, batch):
        apps, versions, events, heads = [], [], [], []
        for index in range(start, min(start + batch, applications)):
            if index < own:  # the applicant's organization: one application per program
                org, program = orgs[0], programs[index]
                status = "submitted" if index == 0 else rng.choices(statuses, weights)[0]
            else:
                j = index - own
                org = orgs[1 + j % (organizations - 1)]
                program = programs[(org.pk + j // (organizations - 1)) % len(programs)]
                status = rng.choices(statuses, weights)[0]
            owner = owners[org.pk - 1]
            app = _application(
                index + 1, org, owner, program, status, rng.choice(providers), now, rng
            )
            version, history = _history(app, owner, officer)
            rows, head = _audit_rows(app, history, event_id)
            event_id += len(rows)
            apps.append(app)
            if app.pk == 1:
                measured = (1, app.submitted_at or app.created_at)
            if app.ready_for_decision:
                ready.append((app.pk, app.updated_at))
            versions += [version] if version else []
            events += rows
            heads.append(head)
            counts[status] = counts.get(status, 0) + 1
        common.copy_objects(apps)
        common.copy_objects(versions)
        common.copy_objects(events)
        common.copy_objects(heads)
    counts["audit_events"] = event_id - 1
    common.reset_sequences(
        [User, Organization, Membership, Application, ApplicationVersion, AuditEvent, AuditStream]
    )
    decision_id = _decision_stage(ready, officer, approver, measured)
    counts["ready_for_decision"] = len(ready)
    common.vacuum_analyze()
    return Seeded(
        applicant=applicant,
        officer=officer,
        own_application_id=1,
        approver=approver,
        decision_application_id=decision_id,
        counts=counts,
    )


# --- Measuring --------------------------------------------------------------------------------


def session_cookie(user: Any) -> str:
    """A logged-in session, created the way django.contrib.auth.login stores one."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def scenarios(seeded: Seeded) -> list[Scenario]:
    from accounts.services import api_token_create
    from applicants.filters import ApplicationFilter

    _token, raw = api_token_create(user=seeded.officer, name="bench")
    _token, approver_raw = api_token_create(user=seeded.approver, name="bench")
    applicant = {"Cookie": session_cookie(seeded.applicant)}
    officer = {"Cookie": session_cookie(seeded.officer)}
    approver = {"Cookie": session_cookie(seeded.approver)}
    token = {"Authorization": f"Token {raw}"}
    approver_token = {"Authorization": f"Token {approver_raw}"}
    app_id = seeded.own_application_id
    api = "/api/v1/applications/"
    if not seeded.decision_application_id:
        raise SystemExit("no application is ready for a decision: seed more applications")
    queues = [
        Scenario("queue_screening", "/officer/queues/screening/", approver),
        Scenario("queue_review", "/officer/queues/review/", approver),
        Scenario("queue_decision", "/officer/queues/decision/", approver),
        Scenario(
            "decision_page", f"/officer/applications/{seeded.decision_application_id}/", approver
        ),
    ]
    if "queue" in ApplicationFilter.base_filters:  # the API's ?queue= filter, where it exists
        queues.append(
            Scenario("list_api_queue", f"{api}?page_size=25&queue=decision", approver_token)
        )
    else:
        print("the applications API has no ?queue= filter: list_api_queue skipped", flush=True)
    return [
        Scenario("dashboard", "/portal/", applicant),
        Scenario("list_api", f"{api}?page_size=25", token),
        Scenario("list_api_100", f"{api}?page_size=100", token),
        Scenario("list_api_status", f"{api}?page_size=25&status=submitted", token),
        Scenario("list_api_search", f"{api}?page_size=25&search={SEARCH_TERM}", token),
        Scenario("officer_list", "/officer/applications/", officer),
        Scenario("detail_api", f"{api}{app_id}/", token),
        Scenario("detail", f"/officer/applications/{app_id}/", officer),
        Scenario("applicant_detail", f"/portal/applications/{app_id}/", applicant),
        *queues,
    ]


def check_and_count_queries(items: list[Scenario]) -> dict[str, int]:
    """Request each page once in-process: it must answer 200 with content; count its queries."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for scenario in items:
        client = Client()
        client.get(scenario.path, headers=scenario.headers)  # warm caches (ContentTypes, etc.)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(scenario.path, headers=scenario.headers)
        body = response.content.decode()
        if response.status_code != 200:
            raise SystemExit(f"{scenario.path} answered {response.status_code}: {body[:500]}")
        if scenario.path.startswith("/api/v1/applications/?") and not response.json()["count"]:
            raise SystemExit(f"{scenario.path} returned no applications: the seed is wrong")
        if scenario.key.startswith("queue_") and body.count('href="/officer/applications/') < 25:
            raise SystemExit(f"{scenario.path} shows less than a page of rows: the seed is wrong")
        if scenario.key == "decision_page" and 'data-testid="approve"' not in body:
            raise SystemExit(f"{scenario.path} shows no decision panel: the seed is wrong")
        if scenario.path.startswith("/officer/applications/") and "/conflict/" in body:
            raise SystemExit(f"{scenario.path} shows only the conflict-of-interest gate")
        counts[scenario.key] = len(queries)
    return counts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="5,000 applications, 1,000 organizations, 2 s each"
    )
    parser.add_argument("--applications", type=int, help="applications to seed (default 100,000)")
    parser.add_argument("--organizations", type=int, help="organizations to seed (default 20,000)")
    parser.add_argument(
        "--own", type=int, default=30, help="applications of the measured applicant's organization"
    )
    parser.add_argument(
        "--seconds", type=float, help="measured seconds per page, all rounds (default 12)"
    )
    parser.add_argument(
        "--warmup", type=float, help="unmeasured seconds before each page (default 2)"
    )
    parser.add_argument(
        "--rounds", type=int, help="rounds over all pages, seconds split (default 3)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="concurrent keep-alive clients (default 8)"
    )
    parser.add_argument(
        "--workers", type=int, default=common.cpu_count(), help="gunicorn workers (default: cores)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="threads per gunicorn worker (default 4, as make run)",
    )
    parser.add_argument(
        "--database", default="bench_pages", help="database name (dropped and recreated)"
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the database after the run")
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="measure the database a --keep-db run left (no seeding)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.applications = args.applications or (5_000 if quick else 100_000)
    args.organizations = args.organizations or (1_000 if quick else 20_000)
    args.seconds = args.seconds or (2.0 if quick else 12.0)
    args.rounds = args.rounds or (2 if quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if quick else 2.0)
    return args


def measure(args: argparse.Namespace, items: list[Scenario]) -> list[Any]:
    """Baseline first, then every page, the same load each; all of it `--rounds` times, so that
    a passing disturbance on the machine spreads over every page instead of hitting one."""
    everything = [Scenario("baseline", "/bench/baseline/", {}), *items]
    slices: dict[str, list[Any]] = {s.key: [] for s in everything}
    with common.Gunicorn(
        workers=args.workers, threads=args.threads, ready_path=everything[0].path
    ) as server:
        for round_number in range(args.rounds):
            for scenario in everything:
                slices[scenario.key].append(
                    common.run_load(
                        name=scenario.key,
                        host=server.host,
                        port=server.port,
                        path=scenario.path,
                        headers=scenario.headers,
                        concurrency=args.concurrency,
                        seconds=args.seconds / args.rounds,
                        warmup=args.warmup if round_number == 0 else 0,
                    )
                )
            done = ", ".join(f"{key} {common.merge(r).rps:.0f}" for key, r in slices.items())
            print(f"  round {round_number + 1}/{args.rounds} (req/s so far): {done}", flush=True)
    return [common.merge(results) for results in slices.values()]


def prepare(args: argparse.Namespace, url: str) -> Seeded:
    """A fresh, migrated and seeded database; or, with --reuse-db, the one a --keep-db run left
    (migrated again, so that an index added since is there: compare before and after)."""
    import django
    from django.core.management import call_command

    started = time.perf_counter()
    if not args.reuse_db:
        common.recreate_database(url)
    django.setup()
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.perf_counter() - started:.1f} s", flush=True)
    if args.reuse_db:
        return seeded_from_database()
    started = time.perf_counter()
    seeded = seed(applications=args.applications, organizations=args.organizations, own=args.own)
    print(f"seeded in {time.perf_counter() - started:.1f} s: {seeded.counts}", flush=True)
    return seeded


def seeded_from_database() -> Seeded:
    from accounts.models import User
    from applicants.models import Application, Organization

    approver = User.objects.get(email=APPROVER_EMAIL)
    decision = (
        Application.objects.filter(
            status="in_review", ready_for_decision=True, conflict_declarations__officer=approver
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    return Seeded(
        applicant=User.objects.get(email=APPLICANT_EMAIL),
        officer=User.objects.get(email=OFFICER_EMAIL),
        own_application_id=1,
        approver=approver,
        decision_application_id=decision or 0,
        counts={
            "applications": Application.objects.count(),
            "organizations": Organization.objects.count(),
        },
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = common.bench_database_url(args.database)
    common.use_bench_database(url)
    common.terminate_on_sigterm()
    info = common.machine_info()
    print(f"bench/pages.py on {info['cores']} cores ({info['cpu']}), Python {info['python']}")
    print(
        f"started {info['date']}; load average {common.load_average()}; database {url}", flush=True
    )
    try:
        seeded = prepare(args, url)
        items = scenarios(seeded)
        queries = check_and_count_queries(items)
        print(
            f"load: {args.concurrency} keep-alive clients; per page {args.warmup:g} s warm-up, "
            f"then {args.seconds:g} s measured in {args.rounds} rounds; gunicorn "
            f"{args.workers} workers x {args.threads} threads",
            flush=True,
        )
        results = measure(args, items)
    finally:
        from django.db import connections

        connections.close_all()
        if not (args.keep_db or args.reuse_db):
            common.drop_database(url)
    return report(seeded, results, queries)


def report(seeded: Seeded, results: list[Any], queries: dict[str, int]) -> int:
    baseline, pages = results[0], results[1:]
    rows = [
        [
            r.name,
            r.path,
            r.rps,
            r.percentile(0.5),
            r.percentile(0.95),
            r.requests,
            r.errors,
            queries.get(r.name, 1),
            Decimal(f"{r.rps / baseline.rps:.3f}"),
        ]
        for r in results
    ]
    print()
    counts = seeded.counts
    print(f"{counts['applications']:,} applications, {counts['organizations']:,} organizations")
    print(
        common.table(
            [
                "page",
                "path",
                "req/s",
                "p50 ms",
                "p95 ms",
                "requests",
                "errors",
                "queries",
                "x baseline",
            ],
            rows,
        )
    )
    print(f"load average at the end: {common.load_average()}")
    worst = min(pages, key=lambda r: r.rps)
    ratio = worst.rps / baseline.rps
    print(f"\nslowest page: {worst.name} ({worst.path}), {ratio:.3f} x baseline")
    if any(r.errors for r in results):
        print("WARNING: some requests failed (non-200 or connection errors); see the errors column")
    fields = " ".join(f"{r.name}_rps={r.rps:.1f}" for r in pages)
    print(f"RESULT pages {fields} baseline={baseline.rps:.1f} ratio={ratio:.3f}")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
