"""The auditor reads everything and changes nothing: every URL pattern of the project, walked.

The test walks the whole URL configuration (django.urls.get_resolver, recursively), fills each
path parameter with the id of a real object built through the services (an accepted voucher
with accepted, rejected and reversed claims, an approved payout, ledger and statement
reconciliation runs, an alert, a rendered report, an application returned and resubmitted, an
invitation to the auditor's own email...), and then, signed in as an auditor:

- GETs every pattern: 200, unless READ_EXCEPTIONS says what else it answers and why (another
  party's private workspace, an action that is not a page, ...);
- sends POST, PUT, PATCH and DELETE to every pattern. Each must be refused (403, 405, or a
  redirect to a login page), or be a reading page answering as it answers GET (no
  @require_safe: harmless, and the checksum proves it), or be listed in WRITE_EXCEPTIONS with
  why (the auditor's own account and session). A pattern that checks its input before the
  permission (400 to an empty body) is sent a body someone allowed would see accepted
  (VALID_BODIES), and must still refuse; a few show the refusal on the form with a 400
  (REFUSED_ON_THE_FORM), and then the refusal's words must be there;
- after every single request compares a checksum of every table (every model, many-to-many
  tables included; the audit trail and sessions apart) with the one before: nothing may change.
  The trail may only grow by the refusals it records (and by audited downloads on GET).

A new URL pattern fails this test until its path parameters have ids here (World.ids,
PK_BY_PREFIX) and, if the auditor is not simply to read it with a 200, an entry in one of the
exception lists. The admin site is walked twice: as the (non-staff) auditor, and as an auditor
whom an administrator made staff with every *view* permission.
"""

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.forms import BaseForm
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone

from accounts.models import ApiToken, User, hash_token, new_token_value
from applicants import services as applicant_services
from applicants.models import Document
from audit.models import AuditAction, AuditEvent
from disbursement.models import Alert, ReconciliationRun
from disbursement.services import payouts as payout_services
from disbursement.services import vouchers as money_services
from disbursement.services.claims import claim_submit
from disbursement.services.reconciliation import reconcile_ledger, reconcile_statement
from reports.services import report_request
from tests.conftest import COMPLETE_ANSWERS, declare_no_conflict
from tests.disbursement.conftest import active_voucher, claim_input, provider_staff  # noqa: F401
from tests.factories import UserFactory, make_uscc, pdf_upload
from tests.vouchers.conftest import approved, ready  # noqa: F401
from vouchers.models import AwardLetter, Program, ReviewAssignment, ScreeningResult

pytestmark = [pytest.mark.django_db]

WRITE_METHODS = ("post", "put", "patch", "delete")
REFUSED = {403, 405}
LOGIN_PAGES = ("/accounts/login/", "/admin/login/")

# --- what the auditor is not meant to read, and what each such pattern answers ------------------

POST_ONLY = "an action, not a page: only POST is allowed"
APPLICANTS_ONLY = "the applicant's own workspace (drafts, the wizard, their organization)"
PROVIDERS_ONLY = "a compute provider's own portal"
NOT_HERE = "answers the same for anyone with this dummy token (nothing to read)"

READ_EXCEPTIONS: dict[str, tuple[set[int], str]] = {
    # accounts: flows for visitors and for one's own account
    "accounts:signup": ({302}, "sign-up is for visitors; a signed-in person is sent home"),
    "accounts:login": ({302}, "already signed in: sent on"),
    "accounts:logout": ({405}, POST_ONLY),
    "accounts:login_code": ({302}, "the second step of a login in progress; there is none"),
    "accounts:verify_email": ({400}, NOT_HERE),
    "accounts:resend_verification": ({405}, POST_ONLY),
    "accounts:set_language": ({405}, POST_ONLY),
    "accounts:token_revoke": ({405}, POST_ONLY),
    "accounts:password_reset_confirm": ({200}, NOT_HERE),
    # the applicant portal
    "applicants:dashboard": ({302}, "staff are sent to their own dashboard"),
    "applicants:organization_create": ({403}, APPLICANTS_ONLY),
    "applicants:organization_edit": ({403}, APPLICANTS_ONLY),
    "applicants:application_start": ({403}, APPLICANTS_ONLY),
    "applicants:application_detail": ({302}, "staff are sent to the officers' page of it"),
    "applicants:application_step": ({403}, APPLICANTS_ONLY + ": the draft editor"),
    "applicants:application_review": ({403}, APPLICANTS_ONLY + ": the check before submitting"),
    "applicants:application_submit": ({405}, POST_ONLY),
    "applicants:application_withdraw": ({403}, APPLICANTS_ONLY),
    "applicants:voucher_accept": ({405}, POST_ONLY),
    # officers
    "officer:declare_conflict": ({405}, POST_ONLY),
    "officer:override": ({405}, POST_ONLY),
    "officer:assign": ({405}, POST_ONLY),
    "officer:unassign": ({405}, POST_ONLY),
    "officer:review": ({405}, POST_ONLY + " (the assigned reviewer's scores)"),
    "officer:approve": ({405}, POST_ONLY),
    "officer:reject": ({405}, POST_ONLY),
    "officer:return": ({405}, POST_ONLY),
    "officer:letter_retry": ({405}, POST_ONLY),
    "officer:letter_reissue": ({405}, POST_ONLY),
    "officer:voucher_suspend": ({405}, POST_ONLY),
    "officer:voucher_reinstate": ({405}, POST_ONLY),
    "officer:voucher_clawback": ({405}, POST_ONLY),
    "officer:claim_reverse": ({405}, POST_ONLY),
    # providers, finance, reconciliation
    "provider:dashboard": ({403}, PROVIDERS_ONLY),
    "provider:claim_new": ({403}, PROVIDERS_ONLY),
    "provider:claim_detail": ({403}, PROVIDERS_ONLY),
    "finance:payout_prepare": ({403}, "finance's form to prepare a payout"),
    "finance:payout_prepare_provider": ({403}, "finance's form to prepare a payout"),
    "finance:payout_approve": ({405}, POST_ONLY),
    "finance:payout_mark_paid": ({405}, POST_ONLY),
    "reconciliation:run_now": ({405}, POST_ONLY),
    "reconciliation:statement_upload": ({403}, "finance's and providers' upload form"),
    "reconciliation:alert_acknowledge": ({405}, POST_ONLY),
    "reports:request": ({405}, POST_ONLY),
    "reports:retry": ({405}, POST_ONLY),
    "audit:timeline_lookup": ({302}, "a search box: without ?q= it goes back to the trail"),
    # the API: operations that only write
    "api:auth-register": ({405}, POST_ONLY),
    "api:program-criteria": ({405}, POST_ONLY + " (criteria are read with the program)"),
    "api:auth-token-create": ({405}, POST_ONLY),
    "api:auth-token": ({405}, "DELETE only: revoking a token"),
    "api:organization-invitations": ({405}, POST_ONLY),
    "api:invitation-accept": ({405}, POST_ONLY),
    "api:application-submit": ({405}, POST_ONLY),
    "api:application-withdraw": ({405}, POST_ONLY),
    "api:application-return": ({405}, POST_ONLY),
    "api:application-conflict": ({405}, POST_ONLY),
    "api:application-screening-override": ({405}, POST_ONLY),
    "api:application-assignment-remove": ({405}, POST_ONLY),
    "api:application-approve": ({405}, POST_ONLY),
    "api:application-reject": ({405}, POST_ONLY),
    "api:voucher-accept": ({405}, POST_ONLY),
    "api:voucher-lookup": ({400}, "needs ?code=: a code is looked up, not listed"),
    "api:letter-retry": ({405}, POST_ONLY),
    "api:claim-reverse": ({405}, POST_ONLY),
    "api:voucher-clawback": ({405}, POST_ONLY),
    "api:voucher-suspend": ({405}, POST_ONLY),
    "api:voucher-reinstate": ({405}, POST_ONLY),
    "api:payout-approve": ({405}, POST_ONLY),
    "api:payout-paid": ({405}, POST_ONLY),
    "api:provider-statements": ({405}, POST_ONLY),
    "api:alert-acknowledge": ({405}, POST_ONLY),
    "api:report-retry": ({405}, POST_ONLY),
}

# The auditor's own account and session: these may answer without a refusal, and still change
# nothing of the program (the checksum proves it).
OWN_ACCOUNT = "the auditor's own account or session, not program data"
WRITE_EXCEPTIONS: dict[str, tuple[set[int], str]] = {
    "accounts:signup": ({302}, "sign-up is for visitors; a signed-in person is sent home"),
    "accounts:login": ({302}, "already signed in: sent on"),
    "accounts:logout": ({302}, OWN_ACCOUNT + ": logging out"),
    "accounts:verify_email": ({400}, NOT_HERE),
    "accounts:resend_verification": ({302}, OWN_ACCOUNT + ": the auditor's email is verified"),
    "accounts:set_language": ({302}, OWN_ACCOUNT + ": the interface language"),
    "accounts:settings": ({200}, OWN_ACCOUNT + ": API tokens (the empty form is refused)"),
    "accounts:password_change": ({200}, OWN_ACCOUNT + ": the empty form is refused"),
    "accounts:password_reset": ({200}, OWN_ACCOUNT + ": the empty form is refused"),
    "accounts:password_reset_confirm": ({200}, NOT_HERE),
    "accounts:second_factor": ({200}, OWN_ACCOUNT + ": the auditor's own second factor"),
    "reports:request": ({400}, "auditors request reports (an export); the empty form is refused"),
    "api:reports": ({400}, "auditors request reports (an export); the empty request is refused"),
    "api:auth-register": ({400}, "public sign-up of an applicant (no session used)"),
    "api:auth-token-create": ({400}, OWN_ACCOUNT + ": exchanging a password for a token"),
    "admin:login": ({200}, OWN_ACCOUNT + ": the admin login form"),
    "admin:logout": ({302}, OWN_ACCOUNT + ": logging out"),
}


# Pages that show the service's refusal (NotAllowedError) as a form error with a 400 instead of
# answering 403: the refusal's words must be on the page, and nothing may change.
REFUSED_ON_THE_FORM: dict[str, str] = {}  # none left: those pages now answer 403


# --- walking the URL configuration --------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    route: str  # the full pattern, e.g. "officer/applications/<int:pk>/"
    name: str  # "officer:application_detail"; "" for unnamed patterns
    callback: Callable[..., Any]

    @property
    def key(self) -> str:
        return self.name or self.route

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")

    @property
    def startswith_r(self) -> bool:
        return self.route.startswith("admin/r/")  # "view on site": a content type and an id


def walk(resolver: URLResolver | None = None, prefix: str = "", ns: str = "") -> Iterator[Route]:
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{ns}{entry.namespace}:" if entry.namespace else ns
            yield from walk(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{ns}{entry.name}" if entry.name else ""
            yield Route(prefix + str(entry.pattern), name, entry.callback)


PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")
REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")


@dataclass
class World:
    """Real objects whose ids fill the path parameters."""

    ids: dict[str, Any]
    pk_by_prefix: list[tuple[str, Any]]
    overrides: dict[str, dict[str, Any]]  # per pattern name: ids that differ from `ids`

    def value(self, route: Route, param: str) -> str:
        if param in self.overrides.get(route.name, {}):
            return str(self.overrides[route.name][param])
        if param in ("object_id", "id") and route.is_admin and not route.startswith_r:
            app_label, model_name = route.route.split("/")[1:3]
            model = apps.get_model(app_label, model_name)
            first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
            return str(first if first is not None else 1)
        if param == "pk":
            for prefix, pk in self.pk_by_prefix:
                if route.route.startswith(prefix):
                    return str(pk)
            raise AssertionError(f"{route.route}: say which object its pk is (World.pk_by_prefix)")
        if param not in self.ids:
            raise AssertionError(f"{route.route}: give an id for <{param}> (World.ids)")
        return str(self.ids[param])

    def path(self, route: Route) -> str:
        # Regex groups first: "(?P<app_label>...)" contains what looks like "<app_label>".
        text = REGEX_GROUP.sub(lambda m: self.value(route, m["name"]), route.route)
        text = PARAM.sub(lambda m: self.value(route, m["name"]), text)
        path = "/" + text.replace("^", "").replace("$", "")
        match = resolve(path)  # the path built really is this pattern's
        assert match.func == route.callback or match.url_name == route.name.split(":")[-1], path
        return path


REASON = "The auditor tries to change this."
Body = tuple[bool, dict[str, Any]]  # (sent as a form, not JSON; the data)

# Patterns that check the input before the permission (an empty body gets a 400): a body that
# someone allowed would see accepted, which the auditor must still have refused.
VALID_BODIES: dict[str, Callable[[World], Body]] = {
    "officer:voucher_suspend": lambda w: (True, {"suspend-reason": REASON}),
    "officer:voucher_reinstate": lambda w: (True, {"reinstate-reason": REASON}),
    "officer:voucher_clawback": lambda w: (
        True,
        {"clawback-reason": REASON, "clawback-amount_cents": "1.00"},
    ),
    "officer:claim_reverse": lambda w: (True, {f"reverse-{w.ids['claim_id']}-reason": REASON}),
    "api:programs": lambda w: (
        False,
        {
            "code": "AUD-1",
            "slug": "auditor-program",
            "name": "The auditor's program",
            "region": "CN-SH",
            "currency": "CNY",
            "budget": "1000000.00",
            "award_floor": "140000.00",
            "award_ceiling": "280000.00",
            "rate_standard_bps": 3000,
            "rate_domestic_bps": 5000,
            "opens_at": "2026-01-01T00:00:00+08:00",
            "closes_at": "2026-12-31T00:00:00+08:00",
        },
    ),
    "api:program-criteria": lambda w: (
        False,
        {"code": "auditor", "name": "The auditor's criterion", "weight": 1},
    ),
    "api:organizations": lambda w: (
        False,
        {
            "legal_name": "Auditor Holdings Co., Ltd.",
            "registration_number": make_uscc(987_654),
            "region": "CN-SH",
            "incorporated_on": "2023-05-01",
            "headcount": 20,
            "annual_revenue": "0",
        },
    ),
    "api:invitation-accept": lambda w: (False, {"token": w.ids["invitation_token"]}),
    "api:applications": lambda w: (
        False,
        {"organization": w.ids["organization_id"], "program": w.ids["program_id"]},
    ),
    "api:claim-reverse": lambda w: (False, {"reason": REASON}),
    "api:voucher-clawback": lambda w: (False, {"amount": "1.00", "reason": REASON}),
    "api:voucher-suspend": lambda w: (False, {"reason": REASON}),
    "api:voucher-reinstate": lambda w: (False, {"reason": REASON}),
}


@pytest.fixture
def world(  # noqa: F811
    active_voucher: Any,  # noqa: F811
    provider_staff: Any,  # noqa: F811
    provider: Any,
    approver: Any,
    finance: Any,
    other_applicant: Any,
    other_organization: Any,
    reviewer: Any,
    auditor: User,
    django_capture_on_commit_callbacks: Any,
) -> World:
    voucher = active_voucher
    application = voucher.application
    kept = claim_submit(actor=provider_staff, provider=provider, data=claim_input(voucher)).claim
    claim_submit(actor=provider_staff, provider=provider, data=claim_input(voucher, currency="USD"))
    undone = claim_submit(actor=provider_staff, provider=provider, data=claim_input(voucher)).claim
    money_services.claim_reverse(actor=approver, claim_id=undone.pk, reason="Credit note 7")
    payout = payout_services.payout_create(actor=finance, provider_id=provider.pk)
    payout_services.payout_approve(actor=UserFactory(role=User.Role.FINANCE), payout_id=payout.pk)
    reconcile_ledger(actor=finance)
    day = timezone.localdate().isoformat()
    csv = (
        "voucher_code,invoice_number,provider_reference,amount,currency,service_date\n"
        f"{voucher.code},{kept.invoice_number},{kept.provider_reference},"
        f"{kept.subsidy_cents // 100}.{kept.subsidy_cents % 100:02d},{voucher.currency},{day}\n"
    )
    statement = reconcile_statement(
        actor=finance,
        provider_id=provider.pk,
        month=timezone.localdate().replace(day=1),
        csv_file=SimpleUploadedFile("s.csv", csv.encode(), content_type="text/csv"),
    )
    alert = Alert.objects.create(
        kind=Alert.Kind.THRESHOLD, message="Test alert", voucher=voucher, dedupe_key="matrix"
    )
    raw = new_token_value()
    others_token = ApiToken.objects.create(
        user=other_applicant, name="not the auditor's", prefix=raw[:10], key_hash=hash_token(raw)
    )
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=approver, name="approver's phone")
    with django_capture_on_commit_callbacks(execute=True):  # rendered by the (eager) worker
        report = report_request(
            actor=finance, kind="voucher_statement", params={"voucher": voucher.pk}
        )
    letter = AwardLetter.objects.filter(voucher=voucher).order_by("version").first()
    assert letter is not None
    ids = {
        "token": "not-a-real-token",
        "uidb64": "MQ",
        "token_id": others_token.pk,
        "slug": application.program.slug,
        "name": "review",
        "reference": letter.reference,
        "program_id": application.program_id,
        "organization_id": application.organization_id,
        "application_id": application.pk,
        "document_id": Document.objects.filter(application=application).first().pk,  # type: ignore[union-attr]
        "number": 1,
        "step": "project",
        "result_id": ScreeningResult.objects.filter(application=application).first().pk,  # type: ignore[union-attr]
        "assignment_id": ReviewAssignment.objects.filter(application=application).first().pk,  # type: ignore[union-attr]
        "voucher_id": voucher.pk,
        "version": letter.version,
        "letter_id": letter.pk,
        "claim_id": kept.pk,
        "payout_id": payout.pk,
        "run_id": statement.pk,
        "provider_id": provider.pk,
        "alert_id": alert.pk,
        "report_id": report.pk,
        "kind": report.kind,
        "fmt": "pdf",
        "content_type_id": ContentType.objects.get_for_model(application.program).pk,
        "object_id": application.program_id,  # admin/r/: "view on site" of the program
        "app_label": "vouchers",
        "url": "no-such-admin-page/",
    }
    pk_by_prefix = [
        ("portal/organizations/", application.organization_id),
        ("portal/applications/", application.pk),
        ("portal/vouchers/", voucher.pk),
        ("officer/applications/", application.pk),
        ("officer/claims/", kept.pk),
        ("officer/vouchers/", voucher.pk),
        ("provider/claims/", kept.pk),
        ("finance/payouts/", payout.pk),
        ("reconciliation/alerts/", alert.pk),
        ("reconciliation/", statement.pk),
        ("reports/", report.pk),
        ("audit/timeline/application/", application.pk),
        ("audit/timeline/voucher/", voucher.pk),
        ("admin/otp_totp/totpdevice/", device.pk),
    ]
    # The auditor is invited into an applicant's organization: accepting must still be refused.
    _invitation, invitation_token = applicant_services.invitation_create(
        actor=application.organization.memberships.get().user,
        organization_id=application.organization_id,
        email=auditor.email,
    )
    resubmitted = _resubmitted(other_applicant, other_organization, reviewer, provider)
    overrides = {
        "applicants:invitation_accept": {"token": invitation_token},
        "api:application-version-diff": {"application_id": resubmitted.pk, "number": 2},
    }
    ids["invitation_token"] = invitation_token
    assert ReconciliationRun.objects.filter(kind="ledger").exists()
    return World(ids=ids, pk_by_prefix=pk_by_prefix, overrides=overrides)


def _resubmitted(applicant: User, organization: Any, reviewer: User, provider: Any) -> Any:
    """Another organization's application, returned once and submitted again: two versions."""
    application = applicant_services.application_create(
        actor=applicant,
        organization_id=organization.pk,
        program_id=Program.objects.get().pk,
    )
    applicant_services.application_update(
        actor=applicant,
        application_id=application.pk,
        values={**COMPLETE_ANSWERS, "intended_provider": provider},
    )
    applicant_services.document_add(
        actor=applicant,
        application_id=application.pk,
        kind="business_licence",
        upload=pdf_upload(),
    )
    applicant_services.application_submit(actor=applicant, application_id=application.pk)
    declare_no_conflict(reviewer, application)
    applicant_services.application_return(
        actor=reviewer, application_id=application.pk, message="Say more about the data."
    )
    applicant_services.application_update(
        actor=applicant, application_id=application.pk, values={"title": "Legal LLM, v2"}
    )
    applicant_services.application_submit(actor=applicant, application_id=application.pk)
    return application


# --- proving that nothing changed -----------------------------------------------------------------

# Tables a refused request may write to: the trail of the refusal itself, and the session.
UNCHECKED_APPS = {"audit", "sessions", "axes"}


def _tables() -> list[str]:
    return sorted(
        {
            model._meta.db_table
            for model in apps.get_models(include_auto_created=True)
            if model._meta.app_label not in UNCHECKED_APPS and model._meta.managed
        }
    )


def checksum() -> dict[str, str]:
    """One digest per table of every row's every column."""
    tables = _tables()
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        sql = " UNION ALL ".join(
            f"SELECT %s, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "  # noqa: S608
            f"FROM {quote(table)} t"
            for table in tables
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, tables)
            return dict(cursor.fetchall())
    out = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows = sorted(repr(row) for row in cursor.fetchall())
            out[table] = hashlib.md5("|".join(rows).encode()).hexdigest()  # noqa: S324
    return out


def _last_event_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


# How the services word a refusal (NotAllowedError) when a page shows it on its form.
REFUSAL = re.compile(r"Only [a-z ,]+ (reverse|claw|suspend)|cannot join applicant organizations")
READ_AUDIT = {AuditAction.PERMISSION_DENIED, AuditAction.PAYOUT_EXPORTED, "export.downloaded"}
WRITE_AUDIT = {AuditAction.PERMISSION_DENIED, AuditAction.USER_LOGOUT}


@dataclass
class Outcome:
    key: str
    method: str  # "post+body": the POST repeated with a valid body
    path: str
    status: int
    location: str
    changed: list[str]
    new_events: list[str]
    says_refused: bool = False  # the answer explains a refusal ("Only approvers ...")


def _request(client: Client, method: str, path: str, body: Any = None) -> Any:
    if method == "get":
        return client.get(path)
    if method == "post+body":
        form, data = body
        if form:
            return client.post(path, data=data)
        return client.post(path, data=data, content_type="application/json")
    if method == "post":
        return client.post(path, data={})
    return getattr(client, method)(path, data="{}", content_type="application/json")


class Watcher:
    """Sends one request at a time and says what it changed. The state after a request is the
    state before the next, so each request costs one checksum."""

    def __init__(self, client: Client, user: User) -> None:
        self.client, self.user = client, user
        self.reset()

    def reset(self) -> None:
        self.state, self.last_event = checksum(), _last_event_id()

    def send(self, route: Route, method: str, path: str, body: Any = None) -> Outcome:
        response = _request(self.client, method, path, body)
        after = checksum()
        events = list(
            AuditEvent.objects.filter(id__gt=self.last_event).values_list("action", "actor_id")
        )
        outcome = Outcome(
            key=route.key,
            method=method,
            path=path,
            status=response.status_code,
            location=response.get("Location", ""),
            changed=[t for t in self.state if self.state[t] != after.get(t)],
            new_events=[
                f"{action} by {'auditor' if actor == self.user.pk else actor}"
                for action, actor in events
            ],
            says_refused=bool(REFUSAL.search(_said(response))),
        )
        self.state, self.last_event = after, _last_event_id()
        if "_auth_user_id" not in self.client.session:  # logged out: sign in again
            self.client.force_login(self.user)
            self.reset()  # signing in stamps the user's last_login
        return outcome


def _said(response: Any) -> str:
    """The answer's text, and the errors of the forms it was rendered with (a page may not
    show a form to someone who may not use it, but the form still carries the refusal)."""
    if response.streaming:
        return ""
    said = [response.content.decode(errors="replace")]
    for context in response.context or []:
        for value in context.flatten().values() if hasattr(context, "flatten") else []:
            # A form in the context, or on the rows of a list (a claim's own reversal form).
            rows = value if isinstance(value, list) else [value]
            for item in rows:
                candidates = [item, *getattr(item, "__dict__", {}).values()]
                said.extend(
                    str(form.errors)
                    for form in candidates
                    if isinstance(form, BaseForm) and form.is_bound
                )
    return "\n".join(said)


def run_matrix(
    client: Client,
    user: User,
    routes: list[Route],
    w: World,
    methods: tuple[str, ...] = WRITE_METHODS,
) -> list[Outcome]:
    outcomes = []
    watcher = Watcher(client, user)
    for route in routes:
        path = w.path(route)
        for method in ("get", *methods):
            outcome = watcher.send(route, method, path)
            outcomes.append(outcome)
            if method == "post" and outcome.status == 400 and route.key in VALID_BODIES:
                # Validated before the permission check: send what would be accepted from
                # someone allowed, and the auditor must still be refused.
                body = VALID_BODIES[route.key](w)
                outcomes.append(watcher.send(route, "post+body", path, body))
    return outcomes


def _events_ok(outcome: Outcome, allowed: set[str]) -> bool:
    return all(e.split(" by ")[0] in allowed and e.endswith("auditor") for e in outcome.new_events)


def problems(outcomes: list[Outcome], *, admin_staff: bool = False) -> list[str]:
    found = []
    reads = {o.key: o for o in outcomes if o.method == "get"}
    for o in outcomes:
        where = f"{o.method.upper()} {o.path} ({o.key}) -> {o.status} {o.location}".strip()
        if o.changed:
            found.append(f"{where}: CHANGED {o.changed}")
        if o.method == "get":
            if not _events_ok(o, READ_AUDIT):
                found.append(f"{where}: unexpected audit events {o.new_events}")
            expected = READ_EXCEPTIONS.get(o.key, ({200}, ""))[0]
            if o.path.startswith("/admin/"):
                expected = _admin_read(o, admin_staff)
            if o.status not in expected:
                found.append(f"{where}: expected {sorted(expected)}")
            continue
        read = reads[o.key]
        # A reading page that answers every method as it answers GET (no @require_safe): the
        # same page again, and the checksum shows that nothing changed.
        same_as_read = (o.status, o.location) == (read.status, read.location) and o.status in (
            200,
            302,
            404,
        )
        if not _events_ok(o, WRITE_AUDIT | (READ_AUDIT if same_as_read else set())):
            found.append(f"{where}: unexpected audit events {o.new_events}")
        if o.status in REFUSED or same_as_read:
            continue
        if o.status == 302 and o.location.startswith(LOGIN_PAGES):
            continue
        if o.key in WRITE_EXCEPTIONS and o.status in WRITE_EXCEPTIONS[o.key][0]:
            continue
        if admin_staff and o.path.startswith("/admin/") and o.status in (200, 302):
            continue  # admin pages that ignore the method; the checksum is the proof
        if o.method == "post" and o.status == 400 and o.key in VALID_BODIES:
            continue  # judged by the "post+body" outcome that follows
        if o.status == 400 and o.says_refused and o.key in REFUSED_ON_THE_FORM:
            continue
        hint = " (validated before refusing: add a VALID_BODIES entry)" if o.status == 400 else ""
        found.append(f"{where}: not refused{hint}")
    return found


def _admin_read(o: Outcome, staff: bool) -> set[int]:
    if o.key == "admin:logout":
        return {302, 405}  # POST only; a non-staff visitor is sent to the admin's front door
    if o.key in ("admin:login", "admin:jsi18n"):
        return {200, 302}
    if o.key == "admin:view_on_site":
        return {302, 404}  # to the object's own page, where it has one
    if not staff:
        return {302}  # to the admin login: the admin site is for staff
    return {200, 302, 403, 404}


def _routes(admin: bool) -> list[Route]:
    return [r for r in walk() if r.is_admin == admin]


# --- the tests ---------------------------------------------------------------------------------


def test_every_url_pattern_is_walked() -> None:
    routes = list(walk())
    assert len(routes) > 250
    keys = {r.key for r in routes}
    for key in (*READ_EXCEPTIONS, *WRITE_EXCEPTIONS):
        assert key in keys, f"{key} is listed as an exception but is no URL pattern any more"


def test_auditor_reads_every_page_and_changes_nothing(
    world: World, auditor: User, client: Client
) -> None:
    client.force_login(auditor)
    outcomes = run_matrix(client, auditor, _routes(admin=False), world)
    found = problems(outcomes)
    assert not found, "\n".join(found)
    readable = [o for o in outcomes if o.method == "get" and o.status == 200]
    assert len(readable) >= 60


def test_auditor_cannot_enter_the_admin_site(world: World, auditor: User, client: Client) -> None:
    assert not auditor.is_staff
    client.force_login(auditor)
    found = problems(run_matrix(client, auditor, _routes(admin=True), world))
    assert not found, "\n".join(found)


def test_auditor_made_staff_with_view_permissions_reads_the_admin_but_changes_nothing(
    world: World, client: Client
) -> None:
    auditor = UserFactory(role=User.Role.AUDITOR, is_staff=True)
    auditor.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(auditor)
    # The admin's views tell only POST from GET (PUT, PATCH and DELETE were sent to every
    # admin pattern by the test before): GET and POST, as someone let into the admin.
    outcomes = run_matrix(client, auditor, _routes(admin=True), world, methods=("post",))
    found = problems(outcomes, admin_staff=True)
    assert not found, "\n".join(found)
    changelists = [o for o in outcomes if o.key.endswith("_changelist") and o.method == "get"]
    assert changelists and all(o.status == 200 for o in changelists)
    for o in outcomes:
        model_page = re.fullmatch(r"admin:\w+_\w+_(add|change|delete)", o.key)
        if o.method == "post" and model_page and o.key != "admin:password_change":
            assert o.status == 403, (o.path, o.status)


def test_auditor_given_change_permissions_is_still_refused_in_the_admin(client: Client) -> None:
    from django_celery_beat.models import IntervalSchedule

    schedule = IntervalSchedule.objects.create(every=10, period="minutes")
    auditor = UserFactory(role=User.Role.AUDITOR, is_staff=True)
    auditor.user_permissions.set(Permission.objects.filter(codename__endswith="_intervalschedule"))
    client.force_login(auditor)
    url = f"/admin/django_celery_beat/intervalschedule/{schedule.pk}/delete/"
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert IntervalSchedule.objects.filter(pk=schedule.pk).exists()
