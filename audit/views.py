"""The auditor portal: search the audit trail, read one application's or voucher's timeline.
Thin: the reads are in audit.portal_selectors, the filters in audit.forms."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from accounts.models import User
from accounts.utils import user_of
from applicants.models import Application
from audit.forms import AuditSearchForm
from audit.models import AuditAction, AuditEvent
from audit.portal_selectors import (
    Timeline,
    audit_event_search,
    audit_trail_readable_by,
    data_rows,
    timeline_for_application,
    timeline_for_voucher,
)
from audit.services import audit_record
from vouchers import codes
from vouchers.models import Voucher

PAGE_SIZE = 50


def audit_reader(request: HttpRequest) -> User:
    """The signed-in auditor or administrator; anyone else is refused, and the refusal kept."""
    user = user_of(request)
    if not audit_trail_readable_by(user):
        audit_record(
            actor=user,
            action=AuditAction.PERMISSION_DENIED,
            data={"attempted": "audit.read", "path": request.path[:200]},
        )
        raise PermissionDenied(_("The audit trail is for auditors and administrators."))
    return user


def _page_links(event_type: str, target_id: str, program_slug: str) -> list[tuple[str, str]]:
    """The pages about an event's target, as (label, url). No query: all on the event row."""
    if not target_id.isdigit():
        return []
    pk = int(target_id)
    match event_type:
        case "applicants.application":
            return [
                (_("Application"), reverse("officer:application_detail", args=[pk])),
                (_("Timeline"), reverse("audit:application_timeline", args=[pk])),
            ]
        case "vouchers.voucher":
            return [
                (_("Voucher"), reverse("officer:voucher_detail", args=[pk])),
                (_("Timeline"), reverse("audit:voucher_timeline", args=[pk])),
            ]
        case "applicants.organization":
            return [(_("Organization"), reverse("applicants:organization_detail", args=[pk]))]
        case "vouchers.program" if program_slug:
            return [(_("Program"), reverse("vouchers:program_detail", args=[program_slug]))]
        case "disbursement.claim":
            return [(_("Claim"), reverse("officer:claim_detail", args=[pk]))]
        case "disbursement.payout":
            return [(_("Payout"), reverse("finance:payout_detail", args=[pk]))]
        case "disbursement.reconciliationrun":
            return [(_("Reconciliation run"), reverse("reconciliation:run_detail", args=[pk]))]
        case "disbursement.alert":
            return [(_("Alerts"), reverse("reconciliation:alerts") + "?show=all")]
        case "reports.report":
            return [(_("Report"), reverse("reports:detail", args=[pk]))]
        case "accounts.user":
            query = urlencode({"stream": f"accounts.user:{pk}"})
            return [(_("Their events"), f"{reverse('audit:events')}?{query}")]
    return []


def target_links(event: AuditEvent) -> list[tuple[str, str]]:
    return _page_links(event.target_type, event.target_id, getattr(event, "program_slug", ""))


def _decorate(events: Any) -> list[AuditEvent]:
    """Attach what the templates show: readable data rows, links to the target's pages."""
    out = []
    for event in events:
        event.rows = data_rows(event.data)  # type: ignore[attr-defined]
        event.links = target_links(event)  # type: ignore[attr-defined]
        event.stream_url = (  # type: ignore[attr-defined]
            f"{reverse('audit:events')}?{urlencode({'stream': event.stream})}"
        )
        out.append(event)
    return out


@login_required
@require_safe
def events(request: HttpRequest) -> HttpResponse:
    """Search the trail: newest first, 50 to a page, filters kept across pages."""
    audit_reader(request)
    form = AuditSearchForm(request.GET or None)
    status = 200
    page = None
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        filters = form.filters() if form.is_bound else {}
        page = Paginator(audit_event_search(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
        page.object_list = _decorate(page.object_list)
    keep = urlencode([(k, v) for k, v in request.GET.items() if k != "page" and v])
    return render(
        request,
        "audit/events.html",
        {"form": form, "page": page, "keep": keep, "filtered": bool(keep)},
        status=status,
    )


def _problem_seqs(timeline: Timeline) -> set[tuple[str, int | None]]:
    return {(p.stream, p.seq) for check in timeline.checks for p in check.problems}


def _render_timeline(request: HttpRequest, timeline: Timeline, subject: str) -> HttpResponse:
    broken = _problem_seqs(timeline)
    for event in _decorate(timeline.events):
        event.broken = (event.stream, event.seq) in broken  # type: ignore[attr-defined]
    return render(
        request,
        "audit/timeline.html",
        {
            "timeline": timeline,
            "application": timeline.application,
            "voucher": timeline.voucher,
            "subject": subject,
        },
    )


@login_required
@require_safe
def application_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    audit_reader(request)
    return _render_timeline(request, timeline_for_application(application_id=pk), "application")


@login_required
@require_safe
def voucher_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    audit_reader(request)
    return _render_timeline(request, timeline_for_voucher(voucher_id=pk), "voucher")


@login_required
@require_safe
def timeline_lookup(request: HttpRequest) -> HttpResponse:
    """An application's reference or a voucher's code, as typed, to its timeline."""
    audit_reader(request)
    text = (request.GET.get("q") or "").strip()[:60]
    application_id = (
        Application.objects.filter(reference=text.upper()).values_list("pk", flat=True).first()
        if text
        else None
    )
    if application_id is not None:
        return redirect("audit:application_timeline", pk=application_id)
    try:
        code = codes.normalize(text) if text else None
    except codes.VoucherCodeError:
        code = None
    voucher_id = (
        Voucher.objects.filter(code=code).values_list("pk", flat=True).first() if code else None
    )
    if voucher_id is not None:
        return redirect("audit:voucher_timeline", pk=voucher_id)
    messages.error(
        request,
        _("No application has the reference %(q)s and no voucher the code %(q)s.") % {"q": text}
        if text
        else _("Type an application's reference or a voucher's code."),
    )
    return redirect("audit:events")
