"""Every URL pattern of the project, with real ids filled in, for the route-walking tests.

`seeded_world()` runs seed_demo (one user per role, a program, applications in every state, an
accepted voucher with its letter and claims) and adds what seed_demo does not make: a payout, a
reconciliation run, an alert, an invitation, a report, a token per user. `urls(world)` then
turns each pattern into a URL whose parameters name objects of that world, so that detail pages
are really rendered rather than answered 404.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from accounts.models import User

PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")
# The previous literal segment says which object an `<int:pk>` is.
PK_BY_SEGMENT = {
    "organizations": "organization",
    "applications": "application",
    "application": "application",
    "vouchers": "voucher",
    "voucher": "voucher",
    "claims": "claim",
    "payouts": "payout",
    "reconciliation": "run",
    "alerts": "alert",
    "reports": "report",
}
BY_NAME = {
    "program_id": "program",
    "provider_id": "provider",
    "organization_id": "organization",
    "application_id": "application",
    "document_id": "document",
    "result_id": "result",
    "assignment_id": "assignment",
    "letter_id": "letter",
    "voucher_id": "voucher",
    "claim_id": "claim",
    "payout_id": "payout",
    "run_id": "run",
    "alert_id": "alert",
    "report_id": "report",
    "token_id": "token",
    "version": "letter_version",
    "number": "version_number",
    "slug": "program_slug",
    "reference": "letter_reference",
    "step": "step",
    "name": "queue",
    "kind": "report_kind",
    "fmt": "report_format",
    "uidb64": "uidb64",
}


@dataclass
class Route:
    route: str  # "portal/applications/<int:pk>/"
    name: str  # "applicants:application_detail"
    url: str  # with the world's ids filled in
    unknown: list[str] = field(default_factory=list)  # parameters the walker had to guess

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")


def _patterns(resolvers: list[Any], prefix: str = "", namespace: str = "") -> list[tuple]:
    found = []
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            if isinstance(entry.pattern, RoutePattern):
                found += _patterns(entry.url_patterns, prefix + str(entry.pattern), ns)
            else:  # the admin's per-app regex: walked through the registry instead
                continue
        elif isinstance(entry, URLPattern) and isinstance(entry.pattern, RoutePattern):
            found.append((prefix + str(entry.pattern), f"{namespace}{entry.name or ''}"))
    return found


def _admin_models() -> dict[str, Any]:
    return {f"admin:{m._meta.app_label}_{m._meta.model_name}_": m for m in admin.site._registry}


def _value(route: str, match: re.Match, world: dict[str, Any], name: str) -> Any:
    param = match["name"]
    if param == "pk":
        segment = route[: match.start()].rstrip("/").rsplit("/", 1)[-1]
        key = PK_BY_SEGMENT.get(segment)
    elif param == "object_id":  # the admin: the first row of that model
        model = next((m for p, m in _admin_models().items() if name.startswith(p)), None)
        first = model._default_manager.order_by("pk").first() if model else None
        return first.pk if first else None
    elif param == "token":
        key = "invitation_token" if "invitation" in route else "verify_token"
        if "password/reset" in route:
            key = "reset_token"
    else:
        key = BY_NAME.get(param)
    return world.get(key) if key else None


def urls(world: dict[str, Any]) -> list[Route]:
    routes = []
    for route, name in _patterns(get_resolver().url_patterns):
        unknown: list[str] = []

        def fill(
            match: re.Match, route: str = route, name: str = name, unknown: list = unknown
        ) -> str:
            value = _value(route, match, world, name)
            if value is None:
                unknown.append(match["name"])
                return "999999" if match["conv"] in ("int", None) else "unknown"
            return str(value)

        routes.append(Route(route, name, "/" + PARAM.sub(fill, route), unknown))
    return routes


def seeded_world() -> dict[str, Any]:
    """seed_demo plus the objects it does not make; returns ids by name and users by role."""
    from django.contrib.auth.tokens import default_token_generator
    from django.core.management import call_command
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from accounts.services import api_token_create, verification_token
    from applicants.models import ApplicationVersion, Document
    from applicants.services import invitation_create
    from disbursement.models import Alert, Claim
    from disbursement.services.payouts import payout_create
    from disbursement.services.reconciliation.ledger import reconcile_ledger
    from vouchers.models import ReviewAssignment, ScreeningResult, Voucher

    call_command("seed_demo", "--quiet")
    users = {role: User.objects.get(email=f"{role}@vouchers.example") for role in User.Role}
    voucher = Voucher.objects.select_related("application__organization").get(status="active")
    application = voucher.application
    users[User.Role.APPLICANT] = application.organization.memberships.get(role="owner").user
    letter = voucher.letters.get()
    claim = Claim.objects.filter(voucher=voucher, status="accepted").first()
    provider = claim.provider if claim else None
    payout = payout_create(actor=users[User.Role.FINANCE], provider_id=provider.pk)
    run = reconcile_ledger(actor=None)
    alert = Alert.objects.create(
        kind=Alert.Kind.THRESHOLD, dedupe_key="walk", message="walk", voucher=voucher, run=run
    )
    _invitation, invitation_token = invitation_create(
        actor=users[User.Role.APPLICANT],
        organization_id=application.organization_id,
        email="invited@example.com",
    )
    tokens = {
        role: api_token_create(user=user, name="walk", otp_verified=True)[0]
        for role, user in users.items()
    }
    from reports.services import report_request

    report = report_request(
        actor=users[User.Role.AUDITOR],
        kind="voucher_register",
        params={"program": application.program_id},
    )
    applicant = users[User.Role.APPLICANT]
    return {
        "users": users,
        "tokens": tokens,
        "program": application.program_id,
        "program_slug": application.program.slug,
        "provider": provider.pk if provider else None,
        "organization": application.organization_id,
        "application": application.pk,
        "document": Document.objects.filter(application=application)
        .values_list("pk", flat=True)
        .first(),
        "result": ScreeningResult.objects.filter(application=application)
        .values_list("pk", flat=True)
        .first(),
        "assignment": ReviewAssignment.objects.filter(application=application)
        .values_list("pk", flat=True)
        .first(),
        "letter": letter.pk,
        "letter_version": letter.version,
        "letter_reference": letter.reference,
        "version_number": ApplicationVersion.objects.filter(application=application)
        .values_list("number", flat=True)
        .first(),
        "voucher": voucher.pk,
        "claim": claim.pk if claim else None,
        "payout": payout.pk,
        "run": run.pk,
        "alert": alert.pk,
        "report": report.pk,
        "token": tokens[User.Role.APPLICANT].pk,
        "report_kind": "voucher_register",
        "report_format": "pdf",
        "step": "project",
        "queue": "screening",
        "invitation_token": invitation_token,
        "verify_token": verification_token(applicant),
        "uidb64": urlsafe_base64_encode(force_bytes(applicant.pk)),
        "reset_token": default_token_generator.make_token(applicant),
    }
