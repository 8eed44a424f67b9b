"""Officers' pages for voucher money: the ledger, claims, and the actions that move money back."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.utils import user_of
from core.charts import cumulative_spending_svg
from core.exceptions import DomainError
from core.forms import add_domain_error
from disbursement.forms import ClawbackForm, ReasonForm
from disbursement.models import Claim
from disbursement.policies import (
    READ_ALL_ROLES,
    MoneyAction,
    allows,
    claims_visible_to,
    require,
)
from disbursement.services import vouchers as money
from vouchers.policies import VoucherAction
from vouchers.selectors import voucher_get_for


def _reader(request: HttpRequest) -> Any:
    user = user_of(request)
    if user.role not in READ_ALL_ROLES:
        raise PermissionDenied(
            _("This part of the site is for program officers, finance and auditors.")
        )
    return user


def _reverse_prefix(claim_id: int) -> str:
    """Each claim's reversal form has its own prefix: its own field ids and its own errors."""
    return f"reverse-{claim_id}"


def _context(user: Any, voucher: Any, **forms: Any) -> dict[str, Any]:
    ledger = list(voucher.ledger.select_related("claim", "actor").order_by("id"))
    claims = list(
        Claim.objects.filter(voucher=voucher)
        .select_related("provider", "payout")
        .prefetch_related("lines")
        .order_by("-created_at")
    )
    failed = forms.get("reverse_form")
    for claim in claims:
        prefix = _reverse_prefix(claim.pk)
        mine = failed is not None and failed.prefix == prefix
        claim.reverse_form = failed if mine else ReasonForm(prefix=prefix)  # type: ignore[attr-defined]
        claim.reverse_open = mine  # type: ignore[attr-defined]
    return {
        "voucher": voucher,
        "ledger": ledger,
        "claims": claims,
        "chart": cumulative_spending_svg(
            points=[(e.created_at, e.spent_after_cents) for e in ledger if e.spent_delta_cents],
            cap_cents=voucher.cap_cents,
            currency=voucher.currency,
            start=voucher.valid_from,
            end=voucher.valid_until,
            title=_("Spending against the cap"),
        ),
        "can_act": allows(user, MoneyAction.SUSPEND),
        "suspend_form": forms.get("suspend_form") or ReasonForm(prefix="suspend"),
        "reinstate_form": forms.get("reinstate_form") or ReasonForm(prefix="reinstate"),
        "clawback_form": forms.get("clawback_form") or ClawbackForm(prefix="clawback"),
        "open_form": forms.get("open_form", ""),
    }


@login_required
def voucher_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _reader(request)
    voucher = voucher_get_for(viewer=user, voucher_id=pk, action=VoucherAction.VIEW)
    return render(request, "disbursement/officer_voucher.html", _context(user, voucher))


def _act(
    request: HttpRequest,
    pk: int,
    action: MoneyAction,
    form: Any,
    key: str,
    run: Callable[[Any, Any], Any],
    success: str,
) -> HttpResponse:
    user = _reader(request)
    voucher = voucher_get_for(viewer=user, voucher_id=pk, action=VoucherAction.VIEW)
    require(user, action)  # refused with a 403 before the form is read, whatever it holds
    if form.is_valid():
        try:
            run(user, form)
        except DomainError as exc:
            add_domain_error(form, exc, {"amount": "amount_cents"})
        else:
            messages.success(request, success)
            return redirect("officer:voucher_detail", pk=pk)
    voucher.refresh_from_db()
    return render(
        request,
        "disbursement/officer_voucher.html",
        _context(user, voucher, **{key: form, "open_form": key}),
        status=400,
    )


@login_required
@require_POST
def suspend(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        MoneyAction.SUSPEND,
        ReasonForm(request.POST, prefix="suspend"),
        "suspend_form",
        lambda user, form: money.voucher_suspend(
            actor=user, voucher_id=pk, reason=form.cleaned_data["reason"]
        ),
        _("The voucher is suspended: claims are refused until it is reinstated."),
    )


@login_required
@require_POST
def reinstate(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        MoneyAction.REINSTATE,
        ReasonForm(request.POST, prefix="reinstate"),
        "reinstate_form",
        lambda user, form: money.voucher_reinstate(
            actor=user, voucher_id=pk, reason=form.cleaned_data["reason"]
        ),
        _("The voucher is active again."),
    )


@login_required
@require_POST
def clawback(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        MoneyAction.CLAWBACK,
        ClawbackForm(request.POST, prefix="clawback"),
        "clawback_form",
        lambda user, form: money.voucher_clawback(
            actor=user,
            voucher_id=pk,
            amount_cents=form.cleaned_data["amount_cents"],
            reason=form.cleaned_data["reason"],
        ),
        _("The amount was clawed back and returned to the program's budget."),
    )


@login_required
@require_POST
def reverse_claim(request: HttpRequest, pk: int, claim_id: int) -> HttpResponse:
    claim = get_object_or_404(Claim, pk=claim_id, voucher_id=pk)
    return _act(
        request,
        pk,
        MoneyAction.REVERSE_CLAIM,
        ReasonForm(request.POST, prefix=_reverse_prefix(claim.pk)),
        "reverse_form",
        lambda user, form: money.claim_reverse(
            actor=user, claim_id=claim.pk, reason=form.cleaned_data["reason"]
        ),
        _("The claim was reversed; its subsidy is back on the voucher."),
    )


@login_required
def claims(request: HttpRequest) -> HttpResponse:
    user = _reader(request)
    qs = claims_visible_to(user).select_related("provider").order_by("-created_at", "-id")
    status = request.GET.get("status") or ""
    if status in Claim.Status.values:
        qs = qs.filter(status=status)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "disbursement/officer_claims.html",
        {"page": page, "status": status, "statuses": Claim.Status.choices},
    )


@login_required
def claim_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _reader(request)
    claim = get_object_or_404(
        claims_visible_to(user).select_related("payout").prefetch_related("lines"), pk=pk
    )
    return render(
        request,
        "disbursement/claim_detail.html",
        {"claim": claim, "back": "officer:claims", "officer": True},
    )
