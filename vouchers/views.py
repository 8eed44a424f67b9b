"""Public program pages and the officers' application pages."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.utils import user_of
from applicants.filters import ApplicationFilter
from applicants.forms import ReturnForm
from applicants.models import Application
from applicants.policies import OFFICER_VIEW_ROLES, AppAction, application_allows
from applicants.rules import diff
from applicants.selectors import (
    application_documents,
    application_get_for,
    application_list_for_viewer,
    application_versions,
)
from applicants.services import application_return
from audit.selectors import audit_events_for_target
from core.exceptions import DomainError
from core.forms import add_domain_error
from core.views import posted
from vouchers.models import Program
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
            organization__memberships__user=user_of(request),
            status__in=Application.OPEN,
        ).first()
    return render(
        request, "vouchers/program_detail.html", {"program": program, "existing": existing}
    )


def _officer(request: HttpRequest) -> User:
    user = user_of(request)
    if user.role not in OFFICER_VIEW_ROLES:
        raise PermissionDenied(_("This part of the site is for program officers and auditors."))
    return user


@login_required
def officer_applications(request: HttpRequest) -> HttpResponse:
    user = _officer(request)
    status = request.GET.get("status") or ""
    search = (request.GET.get("q") or "").strip()[:100]
    params = {"status": [status] if status in Application.Status.values else [], "search": search}
    visible = application_list_for_viewer(viewer=user).order_by("-submitted_at", "-id")
    filterset = ApplicationFilter(params, queryset=visible)
    qs = filterset.qs if filterset.is_valid() else visible.none()
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "vouchers/officer_applications.html",
        {
            "page": page,
            "status": status,
            "q": search,
            "statuses": Application.Status.choices,
        },
    )


@login_required
def officer_application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _officer(request)
    application = application_get_for(viewer=user, application_id=pk, action=AppAction.VIEW)
    versions = list(application_versions(application=application))
    version_diffs = [
        {"from": prev, "to": cur, "changes": diff(prev.snapshot, cur.snapshot)}
        for prev, cur in zip(versions, versions[1:], strict=False)
    ]
    form = ReturnForm(posted(request))
    can_return = application_allows(user, application, AppAction.RETURN) and (
        Application.Status.RETURNED in Application.TRANSITIONS[application.status]
    )
    if request.method == "POST":
        application_get_for(viewer=user, application_id=pk, action=AppAction.RETURN)
        if form.is_valid():
            try:
                application_return(
                    actor=user, application_id=pk, message=form.cleaned_data["message"]
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("Returned to the applicant."))
                return redirect("officer:application_detail", pk=pk)
    return render(
        request,
        "vouchers/officer_application_detail.html",
        {
            "application": application,
            "latest": versions[-1] if versions else None,
            "versions": versions,
            "version_diffs": list(reversed(version_diffs)),
            "documents": list(application_documents(application=application)),
            "events": audit_events_for_target(
                target_type="applicants.application", target_id=str(pk)
            ),
            "form": form,
            "can_return": can_return,
        },
    )
