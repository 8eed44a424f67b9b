"""The applicant's voucher pages: the award, its letter, accepting it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.utils import user_of
from audit.services import audit_download
from core.charts import cumulative_spending_svg
from core.exceptions import DomainError
from vouchers.models import AwardLetter
from vouchers.policies import VoucherAction
from vouchers.selectors import letter_current, letters_of, voucher_get_for
from vouchers.services import voucher_accept


@login_required
def voucher_detail(request: HttpRequest, pk: int) -> HttpResponse:
    voucher = voucher_get_for(viewer=user_of(request), voucher_id=pk, action=VoucherAction.VIEW)
    from disbursement.models import Claim  # disbursement builds on vouchers

    ledger = list(voucher.ledger.select_related("claim").order_by("id"))
    claims = list(
        Claim.objects.filter(
            voucher=voucher, status__in=[Claim.Status.ACCEPTED, Claim.Status.REVERSED]
        )
        .select_related("provider")
        .prefetch_related("lines")
        .order_by("-created_at")
    )
    chart = cumulative_spending_svg(
        points=[
            (entry.created_at, entry.spent_after_cents)
            for entry in ledger
            if entry.spent_delta_cents
        ],
        cap_cents=voucher.cap_cents,
        currency=voucher.currency,
        start=voucher.valid_from,
        end=voucher.valid_until,
        title=_("Spending against the cap"),
    )
    return render(
        request,
        "vouchers/voucher_detail.html",
        {
            "voucher": voucher,
            "letter": letter_current(voucher=voucher),
            "letters": letters_of(voucher=voucher),
            "can_accept": voucher.status == voucher.Status.ISSUED,
            "ledger": ledger,
            "claims": claims,
            "chart": chart,
            "used_percent": voucher.spent_cents * 100 // voucher.cap_cents
            if voucher.cap_cents
            else 0,
        },
    )


@login_required
@require_POST
def voucher_accept_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    voucher = voucher_get_for(viewer=user, voucher_id=pk, action=VoucherAction.ACCEPT)
    try:
        voucher_accept(actor=user, voucher_id=voucher.pk)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _(
                "You accepted the award. The voucher is active: give its code to "
                "your compute provider."
            ),
        )
    return redirect("applicants:voucher_detail", pk=pk)


@login_required
def letter_download(request: HttpRequest, pk: int, version: int) -> FileResponse:
    voucher = voucher_get_for(viewer=user_of(request), voucher_id=pk, action=VoucherAction.VIEW)
    letter = get_object_or_404(
        AwardLetter, voucher=voucher, version=version, status=AwardLetter.Status.READY
    )
    audit_download(
        actor=request.user,
        target=letter,
        filename=f"{letter.reference}.pdf",
        data={"sha256": letter.sha256},
    )
    response = FileResponse(
        letter.pdf.open("rb"),
        as_attachment=True,
        filename=f"{letter.reference}.pdf",
        content_type="application/pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
