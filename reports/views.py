"""Report pages: the list with a request form per kind, one report with its progress bar (the
page polls a small JSON status while the worker renders), downloads. Thin: the same policies
and services as the API."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.utils import user_of
from core.exceptions import DomainError, NotAllowedError
from core.forms import add_domain_error
from reports import services
from reports.forms import FORMS, ReportForm
from reports.models import Report
from reports.policies import (
    READ_ALL_ROLES,
    ReportAction,
    kinds_for,
    report_allows,
    report_get_for,
    reports_visible_to,
    uses_reports,
)

# Report statuses shown with the existing status colours.
STATUS_STYLE: dict[str, str] = {
    Report.Status.QUEUED: "submitted",
    Report.Status.RUNNING: "in_review",
    Report.Status.DONE: "approved",
    Report.Status.FAILED: "rejected",
}

# What the report page calls the counts and totals a report keeps (Report.summary).
SUMMARY_LABELS: dict[str, Any] = {
    "applications": gettext_lazy("Applications"),
    "decided": gettext_lazy("Decided applications"),
    "entries": gettext_lazy("Ledger entries"),
    "mismatched": gettext_lazy("Entries whose recorded balance differs"),
    "vouchers": gettext_lazy("Vouchers"),
    "findings": gettext_lazy("Findings stored"),
    "problems": gettext_lazy("Problems stored"),
    "discrepancies": gettext_lazy("Discrepancies"),
    "events": gettext_lazy("Events"),
    "chain_problems": gettext_lazy("Chain problems in the whole trail"),
    "chain_problems_in_scope": gettext_lazy("Chain problems in these streams"),
    "budget_cents": gettext_lazy("Budget"),
    "committed_cents": gettext_lazy("Committed"),
    "spent_cents": gettext_lazy("Spent"),
    "remaining_cents": gettext_lazy("Remaining"),
    "committed_unspent_cents": gettext_lazy("Committed, not yet spent"),
    "cap_cents": gettext_lazy("Cap"),
    "charge_cents": gettext_lazy("Charged"),
    "reversal_cents": gettext_lazy("Reversed"),
    "clawback_cents": gettext_lazy("Clawed back"),
}


def _labelled(values: dict[str, Any]) -> list[tuple[Any, Any]]:
    """(label, value) in the order of SUMMARY_LABELS (the database keeps no key order)."""
    order = {key: index for index, key in enumerate(SUMMARY_LABELS)}
    keys = sorted(values, key=lambda key: (order.get(key, len(order)), key))
    return [(SUMMARY_LABELS.get(key, key), values[key]) for key in keys]


def _user(request: HttpRequest) -> Any:
    user = user_of(request)
    if not uses_reports(user):
        raise PermissionDenied(
            _("Reports are for auditors, administrators, finance, approvers and voucher holders.")
        )
    return user


def _list_page(
    request: HttpRequest, user: Any, bound: ReportForm | None = None, status: int = 200
) -> HttpResponse:
    qs = reports_visible_to(user).order_by("-requested_at", "-id")
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    for report in page.object_list:
        report.status_style = STATUS_STYLE.get(report.status, "draft")  # type: ignore[attr-defined]
    forms = [
        bound if bound is not None and bound.kind == kind else FORMS[kind](user=user)
        for kind in kinds_for(user)
    ]
    return render(
        request,
        "reports/report_list.html",
        {"page": page, "forms": forms, "sees_all": user.role in READ_ALL_ROLES},
        status=status,
    )


@login_required
@require_GET
def report_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request, _user(request))


@login_required
@require_POST
def report_request(request: HttpRequest, kind: str) -> HttpResponse:
    user = _user(request)
    if kind not in FORMS:
        raise Http404("No such kind of report.")
    form = FORMS[kind](request.POST, user=user)
    if form.is_valid():
        try:
            report = services.report_request(actor=user, kind=kind, params=form.parameters())
        except NotAllowedError:
            raise
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Your report is queued; this page shows its progress."))
            return redirect("reports:detail", pk=report.pk)
    return _list_page(request, user, bound=form, status=400)


def _status(report: Report) -> dict[str, Any]:
    done = report.status == Report.Status.DONE
    return {
        "id": report.pk,
        "status": report.status,
        "status_display": report.get_status_display(),
        "done": report.progress_done,
        "total": report.progress_total,
        "percent": report.percent,
        "finished": report.is_finished,
        "error": report.error,
        "pdf_sha256": report.pdf_sha256 if done else "",
        "csv_sha256": report.csv_sha256 if done else "",
    }


@login_required
@require_GET
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    report = report_get_for(viewer=user, report_id=pk, action=ReportAction.VIEW)
    return render(
        request,
        "reports/report_detail.html",
        {
            "report": report,
            "status_style": STATUS_STYLE.get(report.status, "draft"),
            "status_url": reverse("reports:status", args=[report.pk]),
            "can_retry": report_allows(user, ReportAction.RETRY, report)
            and services.report_is_retryable(report),
            "counts": _labelled(report.summary.get("counts") or {}),
            "totals": _labelled(report.summary.get("totals") or {}),
            "currency": report.voucher.currency
            if report.voucher
            else (report.program.currency if report.program else ""),
        },
    )


@login_required
@require_GET
def report_status(request: HttpRequest, pk: int) -> JsonResponse:
    """What the progress bar polls: status, done/total, percent, error."""
    report = report_get_for(viewer=user_of(request), report_id=pk, action=ReportAction.VIEW)
    response = JsonResponse(_status(report))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def report_download(request: HttpRequest, pk: int, fmt: str) -> FileResponse:
    user = user_of(request)
    report = report_get_for(viewer=user, report_id=pk, action=ReportAction.DOWNLOAD)
    name, handle, content_type, sha256 = services.report_download(
        actor=user, report=report, fmt=fmt
    )
    response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Checksum-SHA256"] = sha256
    return response


@login_required
@require_POST
def report_retry(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    report = report_get_for(viewer=user, report_id=pk, action=ReportAction.RETRY)
    services.report_retry(actor=user, report_id=report.pk)
    messages.success(request, _("The report is queued again."))
    return redirect("reports:detail", pk=report.pk)
