"""Reconciliation pages: runs, a run's discrepancies, "run now", statement upload, alerts.
Thin: the same services and visibility rules as the API."""

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import DatabaseError
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.utils import user_of
from audit.services import audit_download
from core.exceptions import DomainError
from core.forms import add_domain_error
from disbursement.models import Alert, Provider, ReconciliationRun
from disbursement.services import reconciliation as recon
from disbursement.services.reconciliation import ReconAction, recon_allows

# Run statuses shown with the existing status colours.
STATUS_STYLE: dict[str, str] = {
    ReconciliationRun.Status.RUNNING: "submitted",
    ReconciliationRun.Status.CLEAN: "approved",
    ReconciliationRun.Status.DISCREPANCIES: "rejected",
    ReconciliationRun.Status.FAILED: "returned",
}


def _reader(request: HttpRequest) -> User:
    user = user_of(request)
    if not recon_allows(user, ReconAction.VIEW_ALL) and recon.own_provider_id(user) is None:
        raise PermissionDenied(
            _("Reconciliation is for finance, officers, auditors and providers.")
        )
    return user


def _styled(runs: Any) -> list[Any]:
    for run in runs:
        run.status_style = STATUS_STYLE.get(run.status, "draft")
    return list(runs)


@login_required
def runs(request: HttpRequest) -> HttpResponse:
    user = _reader(request)
    kind = request.GET.get("kind") or ""
    qs = recon.runs_visible_to(user).order_by("-created_at", "-id")
    if kind in ReconciliationRun.Kind.values:
        qs = qs.filter(kind=kind)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    page.object_list = _styled(page.object_list)
    return render(
        request,
        "disbursement/reconciliation_runs.html",
        {
            "page": page,
            "kind": kind,
            "kinds": ReconciliationRun.Kind.choices,
            "can_run": recon_allows(user, ReconAction.RUN_LEDGER),
            "can_upload": recon_allows(user, ReconAction.UPLOAD_ANY_STATEMENT)
            or recon.own_provider_id(user) is not None,
            "can_see_alerts": recon_allows(user, ReconAction.VIEW_ALERTS),
            "open_alerts": recon.open_alerts(recon.alerts_visible_to(user)).count()
            if recon_allows(user, ReconAction.VIEW_ALERTS)
            else 0,
        },
    )


@login_required
@require_POST
def run_now(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if not recon_allows(user, ReconAction.RUN_LEDGER):
        raise PermissionDenied(
            _("Only approvers, administrators and finance run a reconciliation.")
        )
    try:
        run = recon.reconcile_ledger(actor=user)
    except DatabaseError:  # stored on the run as failed, with its error
        messages.error(request, _("The reconciliation failed; the error is kept with the run."))
        return redirect("reconciliation:runs")
    if run.status == ReconciliationRun.Status.CLEAN:
        messages.success(request, _("The ledger reconciles: no discrepancy."))
    else:
        messages.error(
            request,
            _("%(n)d discrepancies found; officers and auditors were alerted.")
            % {"n": run.discrepancy_count},
        )
    return redirect("reconciliation:run_detail", pk=run.pk)


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _reader(request)
    run = get_object_or_404(recon.runs_visible_to(user), pk=pk)
    show_all = request.GET.get("all") == "1"
    rows = run.discrepancies.order_by("id")
    if not show_all:
        rows = rows.filter(is_problem=True)
    counts = run.discrepancies.aggregate(
        matched=Count("id", filter=Q(is_problem=False)), stored=Count("id")
    )
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "disbursement/reconciliation_run.html",
        {
            "run": run,
            "status_style": STATUS_STYLE.get(run.status, "draft"),
            "page": page,
            "show_all": show_all,
            "counts": counts,
            "keep": "all=1" if show_all else "",
            "alert": run.alerts.first(),
        },
    )


@login_required
def statement_download(request: HttpRequest, pk: int) -> FileResponse:
    user = _reader(request)
    run = get_object_or_404(
        recon.runs_visible_to(user), pk=pk, kind=ReconciliationRun.Kind.STATEMENT
    )
    if not run.statement_file:
        raise Http404
    filename = f"statement-{run.provider_id}-{run.statement_month:%Y-%m}.csv"
    audit_download(actor=user, target=run, filename=filename, data={"sha256": run.statement_sha256})
    response = FileResponse(
        run.statement_file.open("rb"),
        as_attachment=True,
        filename=filename,
        content_type="text/csv",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


class StatementForm(forms.Form):
    provider = forms.ModelChoiceField(
        label=gettext_lazy("Provider"), queryset=Provider.objects.none(), empty_label=None
    )
    month = forms.DateField(
        label=gettext_lazy("Month"),
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
        help_text=gettext_lazy("The claims accepted in this month are compared (YYYY-MM)."),
    )
    file = forms.FileField(
        label=gettext_lazy("Statement (CSV, UTF-8)"),
        help_text=gettext_lazy(
            "Columns: voucher_code, invoice_number, provider_reference, amount, currency, "
            "service_date."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args: Any, providers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["provider"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101  (declared above)
        field.queryset = providers


@login_required
def statement_upload(request: HttpRequest) -> HttpResponse:
    """Finance and officers choose the provider; a provider's staff upload for their own."""
    user = user_of(request)
    own = recon.own_provider_id(user)
    if recon_allows(user, ReconAction.UPLOAD_ANY_STATEMENT):
        providers = Provider.objects.order_by("short_name")
    elif own is not None:
        providers = Provider.objects.filter(pk=own)
    else:
        raise PermissionDenied(_("Only finance, approvers and provider staff upload statements."))
    last_month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    initial: dict[str, Any] = {"month": last_month}
    requested = request.GET.get("provider") or ""
    if own is not None:
        initial["provider"] = own
    elif requested.isdigit() and len(requested) < 19:
        initial["provider"] = int(requested)
    form = StatementForm(
        request.POST or None, request.FILES or None, providers=providers, initial=initial
    )
    if request.method == "POST":
        if form.is_valid():
            try:
                run = recon.reconcile_statement(
                    actor=user,
                    provider_id=form.cleaned_data["provider"].pk,
                    month=form.cleaned_data["month"],
                    csv_file=form.cleaned_data["file"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                if run.status == ReconciliationRun.Status.CLEAN:
                    messages.success(request, _("The statement agrees with the accepted claims."))
                else:
                    messages.error(
                        request,
                        _("The statement has %(n)d discrepancies.") % {"n": run.discrepancy_count},
                    )
                return redirect("reconciliation:run_detail", pk=run.pk)
        return render(
            request, "disbursement/reconciliation_statement.html", {"form": form}, status=400
        )
    return render(request, "disbursement/reconciliation_statement.html", {"form": form})


@login_required
def alerts(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if not recon_allows(user, ReconAction.VIEW_ALERTS):
        raise PermissionDenied(_("Alerts are for officers, finance and auditors."))
    show = request.GET.get("show") or "open"
    qs = recon.alerts_visible_to(user).order_by("-created_at", "-id")
    if show != "all":
        show = "open"
        qs = recon.open_alerts(qs)
    kind = request.GET.get("kind") or ""
    if kind in Alert.Kind.values:
        qs = qs.filter(kind=kind)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "disbursement/reconciliation_alerts.html",
        {
            "page": page,
            "show": show,
            "kind": kind,
            "kinds": Alert.Kind.choices,
            "keep": f"show={show}&kind={kind}",
            "can_acknowledge": recon_allows(user, ReconAction.ACKNOWLEDGE_ALERT),
        },
    )


@login_required
@require_POST
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    alert = get_object_or_404(recon.alerts_visible_to(user), pk=pk)
    try:
        recon.alert_acknowledge(actor=user, alert_id=alert.pk)
    except DomainError as exc:
        raise PermissionDenied(exc.message) from exc
    messages.success(request, _("Alert acknowledged."))
    show = "all" if request.POST.get("show") == "all" else "open"
    return redirect(f"{reverse('reconciliation:alerts')}?show={show}")
