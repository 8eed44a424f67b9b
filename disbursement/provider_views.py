"""The provider portal: submit claims against vouchers, follow them, see how each was decided."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.utils import user_of
from core.exceptions import DomainError
from core.forms import add_domain_error
from core.views import posted
from disbursement.forms import ClaimForm, LineFormSet
from disbursement.models import Claim, Provider
from disbursement.policies import claims_visible_to, provider_of
from disbursement.services.claims import ClaimInput, LineInput, claim_submit


def _provider(request: HttpRequest) -> Provider:
    provider = provider_of(user_of(request))
    if provider is None:
        raise PermissionDenied(_("This part of the site is for the staff of compute providers."))
    return provider


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    provider = _provider(request)
    qs = claims_visible_to(user_of(request)).order_by("-created_at", "-id")
    status = request.GET.get("status") or ""
    if status in Claim.Status.values:
        qs = qs.filter(status=status)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    programs = provider.programs.filter(is_published=True).order_by("-opens_at")
    return render(
        request,
        "disbursement/provider_dashboard.html",
        {
            "provider": provider,
            "page": page,
            "status": status,
            "statuses": Claim.Status.choices,
            "programs": programs,
        },
    )


@login_required
def claim_new(request: HttpRequest) -> HttpResponse:
    provider = _provider(request)
    user = user_of(request)
    form = ClaimForm(posted(request), initial={"voucher_code": request.GET.get("voucher", "")})
    lines = LineFormSet(posted(request), prefix="lines")
    if request.method == "POST" and form.is_valid() and lines.is_valid():
        filled = [line.cleaned_data for line in lines if not line.is_blank]
        if not filled:
            form.add_error(None, _("Add at least one usage line."))
        else:
            data = ClaimInput(
                voucher_code=form.cleaned_data["voucher_code"],
                provider_reference=form.cleaned_data["reference"],
                invoice_number=form.cleaned_data["invoice_number"],
                invoice_total_cents=form.cleaned_data["invoice_total_cents"],
                currency=form.cleaned_data["currency"],
                service_period_start=form.cleaned_data["service_period_start"],
                service_period_end=form.cleaned_data["service_period_end"],
                lines=[
                    LineInput(
                        chip_origin=ln["chip_origin"],
                        gpu_hours=ln["gpu_hours"],
                        amount_cents=ln["amount_cents"],
                        description=ln["description"],
                    )
                    for ln in filled
                ],
            )
            try:
                outcome = claim_submit(actor=user, provider=provider, data=data)
            except DomainError as exc:
                add_domain_error(form, exc, {"reference": "reference"})
            else:
                claim = outcome.claim
                if outcome.replayed:
                    messages.info(
                        request,
                        _(
                            "This claim was already recorded under your reference %(ref)s; "
                            "nothing was charged again."
                        )
                        % {"ref": claim.provider_reference},
                    )
                elif claim.status == Claim.Status.ACCEPTED:
                    messages.success(request, _("Claim accepted."))
                else:
                    messages.error(
                        request,
                        _("Claim refused: %(reason)s") % {"reason": claim.rejection_message},
                    )
                return redirect("provider:claim_detail", pk=claim.pk)
    return render(
        request,
        "disbursement/provider_claim_form.html",
        {"form": form, "lines": lines, "provider": provider},
    )


@login_required
def claim_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _provider(request)
    claim = get_object_or_404(claims_visible_to(user_of(request)).prefetch_related("lines"), pk=pk)
    return render(
        request, "disbursement/claim_detail.html", {"claim": claim, "back": "provider:dashboard"}
    )
