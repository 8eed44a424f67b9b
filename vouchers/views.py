"""Public pages: programs, and the verification page that award letters link to."""

import hashlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _

from applicants.models import Application
from vouchers.forms import VerifyForm
from vouchers.models import AwardLetter, Program
from vouchers.selectors import program_list_public


def program_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    programs = list(program_list_public().prefetch_related("approved_providers"))
    return render(
        request,
        "vouchers/program_list.html",
        {
            "open_programs": [p for p in programs if p.opens_at <= now < p.closes_at],
            "upcoming_programs": [p for p in programs if now < p.opens_at],
            "closed_programs": [p for p in programs if p.closes_at <= now],
        },
    )


def program_detail(request: HttpRequest, slug: str) -> HttpResponse:
    program = get_object_or_404(
        Program.objects.prefetch_related("approved_providers"), slug=slug, is_published=True
    )
    existing = None
    if request.user.is_authenticated and request.user.is_applicant:
        existing = Application.objects.filter(
            program=program,
            organization__memberships__user=request.user,
            status__in=Application.OPEN,
        ).first()
    return render(
        request, "vouchers/program_detail.html", {"program": program, "existing": existing}
    )


def letter_verify(request: HttpRequest, reference: str) -> HttpResponse:
    """Public: was a letter with this reference issued, and is this file the genuine one?"""
    letter = (
        AwardLetter.objects.select_related("voucher__organization", "voucher__program")
        .filter(reference=reference, status=AwardLetter.Status.READY)
        .first()
    )
    form = VerifyForm(request.POST or None, request.FILES or None)
    outcome = None
    if request.method == "POST" and letter is not None and form.is_valid():
        upload = form.cleaned_data.get("file")
        if upload is not None:
            if upload.size > settings.DOCUMENT_MAX_BYTES:
                form.add_error("file", _("That file is too large to be an award letter."))
            else:
                digest = hashlib.sha256()
                for chunk in upload.chunks():
                    digest.update(chunk)
                outcome = digest.hexdigest() == letter.sha256
        elif form.cleaned_data.get("sha256"):
            outcome = form.cleaned_data["sha256"].strip().lower() == letter.sha256
        else:
            form.add_error(None, _("Choose the file, or paste its SHA-256 fingerprint."))
    status = 404 if letter is None else 200
    return render(
        request,
        "vouchers/letter_verify.html",
        {"letter": letter, "reference": reference, "form": form, "outcome": outcome},
        status=status,
    )
