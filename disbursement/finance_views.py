"""The finance pages: payouts (list, prepare, approve, mark paid, bank file). Finance acts;
auditors and administrators read. Thin: the policies decide, the services act."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.utils import user_of
from audit.selectors import audit_events_for_target
from core.exceptions import DomainError, NotAllowedError
from core.forms import add_domain_error
from disbursement.forms_payouts import MarkPaidForm, PayoutPrepareForm
from disbursement.models import Payout, Provider
from disbursement.payout_policies import (
    BIGINT_MAX,
    PayoutAction,
    finance_pages_allowed,
    payout_allows,
    payout_approve_blocker,
    payout_get_for,
    payout_require,
    payouts_visible_to,
)
from disbursement.services import payouts as services

PAGE_SIZE = 25
CLAIMS_PAGE_SIZE = 100
PREPARE_LIMIT = 500  # claims shown (and so payable) at once; the rest go in the next payout


def _viewer(request: HttpRequest) -> User:
    user = user_of(request)
    if not finance_pages_allowed(user):
        raise PermissionDenied(_("This part of the site is for finance officers and auditors."))
    return user


@login_required
def payout_list(request: HttpRequest) -> HttpResponse:
    user = _viewer(request)
    status = request.GET.get("status") or ""
    qs = payouts_visible_to(user).order_by("-created_at", "-id")
    if status in Payout.Status.values:
        qs = qs.filter(status=status)
    else:
        status = ""
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "disbursement/finance_payouts.html",
        {
            "page": page,
            "status": status,
            "statuses": Payout.Status.choices,
            "can_prepare": payout_allows(user, PayoutAction.CREATE),
        },
    )


@login_required
def payout_prepare(request: HttpRequest) -> HttpResponse:
    """Providers with accepted claims waiting for payment, per currency."""
    user = _viewer(request)
    payout_require(viewer=user, action=PayoutAction.CREATE)
    return render(
        request, "disbursement/finance_prepare.html", {"summary": services.unpaid_summary()}
    )


def _provider(provider_id: int) -> Provider:
    provider = (
        Provider.objects.filter(pk=provider_id).first() if provider_id <= BIGINT_MAX else None
    )
    if provider is None:
        raise Http404("No such provider.")
    return provider


@login_required
def payout_prepare_provider(request: HttpRequest, provider_id: int) -> HttpResponse:
    """The provider's unpaid claims (of one currency), all ticked; confirming prepares the
    payout of exactly the ticked claims."""
    user = _viewer(request)
    payout_require(viewer=user, action=PayoutAction.CREATE)
    provider = _provider(provider_id)
    currency = (request.GET.get("currency") or request.POST.get("currency") or "").upper()[:3]
    waiting = services.unpaid_claims(provider_id=provider.pk, currency=currency or None)
    waiting_count = waiting.count()
    claims = list(waiting[:PREPARE_LIMIT])
    data = request.POST if request.method == "POST" else None  # an empty POST is still bound
    form = PayoutPrepareForm(data, claim_ids=[c.pk for c in claims])
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                payout = services.payout_create(
                    actor=user, provider_id=provider.pk, claim_ids=form.cleaned_data["claims"]
                )
            except DomainError as exc:
                add_domain_error(form, exc, {"claim_ids": "claims"})
            else:
                messages.success(
                    request,
                    _("Payout %(ref)s is prepared. Another finance officer must approve it.")
                    % {"ref": payout.reference},
                )
                return redirect("finance:payout_detail", pk=payout.pk)
        status = 400
    selected = (
        {int(v) for v in request.POST.getlist("claims") if v.isdigit()}
        if request.method == "POST"
        else {c.pk for c in claims}
    )
    return render(
        request,
        "disbursement/finance_prepare_provider.html",
        {
            "provider": provider,
            "currency": currency,
            "claims": claims,
            "selected": selected,
            "total_cents": sum(c.subsidy_cents for c in claims),
            "currencies": sorted({c.currency for c in claims}),
            "waiting_count": waiting_count,
            "limited": waiting_count > len(claims),
            "form": form,
        },
        status=status,
    )


def _detail_context(
    user: User, payout: Payout, *, page: str | None = None, paid_form: MarkPaidForm | None = None
) -> dict[str, Any]:
    claims = Paginator(services.payout_claims(payout=payout), CLAIMS_PAGE_SIZE)
    blocker = payout_approve_blocker(user, payout)
    finance = payout_allows(user, PayoutAction.APPROVE, payout)
    return {
        "payout": payout,
        "claims": claims.get_page(page),
        "events": audit_events_for_target(
            target_type="disbursement.payout", target_id=str(payout.pk)
        ),
        "is_finance": finance,
        "can_approve": blocker is None,
        # The reason is shown only where it helps: to finance, on a prepared payout.
        "approve_blocker": blocker if finance and payout.status == Payout.Status.DRAFT else None,
        "can_mark_paid": payout_allows(user, PayoutAction.MARK_PAID, payout)
        and payout.status == Payout.Status.APPROVED,
        "can_export": payout_allows(user, PayoutAction.EXPORT, payout)
        and payout.status in services.EXPORTABLE,
        "paid_form": paid_form or MarkPaidForm(),
    }


@login_required
def payout_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _viewer(request)
    payout = payout_get_for(viewer=user, payout_id=pk, action=PayoutAction.VIEW)
    ctx = _detail_context(user, payout, page=request.GET.get("page"))
    return render(request, "disbursement/finance_payout.html", ctx)


@login_required
@require_POST
def payout_approve(request: HttpRequest, pk: int) -> HttpResponse:
    user = _viewer(request)
    payout = payout_get_for(viewer=user, payout_id=pk, action=PayoutAction.APPROVE)
    try:
        services.payout_approve(actor=user, payout_id=payout.pk)
    except NotAllowedError:
        raise  # four eyes: a 403 page, as the API answers, not a message on the payout
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Approved for payment. Send the bank file to the bank."))
    return redirect("finance:payout_detail", pk=payout.pk)


@login_required
@require_POST
def payout_mark_paid(request: HttpRequest, pk: int) -> HttpResponse:
    user = _viewer(request)
    payout = payout_get_for(viewer=user, payout_id=pk, action=PayoutAction.MARK_PAID)
    form = MarkPaidForm(request.POST)
    if form.is_valid():
        try:
            services.payout_mark_paid(
                actor=user, payout_id=payout.pk, bank_reference=form.cleaned_data["bank_reference"]
            )
        except DomainError as exc:
            payout.refresh_from_db()
            if payout.status != Payout.Status.APPROVED:  # paid meanwhile: no form to correct
                messages.error(request, exc.message)
                return redirect("finance:payout_detail", pk=payout.pk)
            add_domain_error(form, exc)
        else:
            messages.success(request, _("The payout is recorded as paid."))
            return redirect("finance:payout_detail", pk=payout.pk)
    ctx = _detail_context(user, payout, paid_form=form)
    return render(request, "disbursement/finance_payout.html", ctx, status=400)


@login_required
def payout_export(request: HttpRequest, pk: int) -> HttpResponse:
    user = _viewer(request)
    payout = payout_get_for(viewer=user, payout_id=pk, action=PayoutAction.EXPORT)
    try:
        filename, content = services.payout_export_csv(actor=user, payout_id=payout.pk)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("finance:payout_detail", pk=payout.pk)
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
