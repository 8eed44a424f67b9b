"""The applicant portal: organizations, the application wizard, submission and status."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.utils import user_of
from applicants import services
from applicants.forms import (
    ChooseOrganizationForm,
    ComputeForm,
    DeclarationsForm,
    DocumentForm,
    FundingForm,
    InviteForm,
    OrganizationEditForm,
    OrganizationForm,
    ProjectForm,
    WithdrawForm,
)
from applicants.models import Application, Document, Membership
from applicants.policies import AppAction, OrgAction, can_create_organization
from applicants.rules import STEP_SLUGS, STEPS, missing_items, step_states
from applicants.selectors import (
    application_documents,
    application_get_for,
    application_list_for_viewer,
    application_versions,
    organization_get_for,
    organization_list_for_user,
)
from audit.selectors import audit_events_for_target
from core.exceptions import DomainError
from core.forms import add_domain_error
from core.views import posted, safe_next
from vouchers.models import Decision, Program, Voucher
from vouchers.screening import describe
from vouchers.selectors import program_list_open, screening_results


def _applicant_required(request: HttpRequest) -> User:
    user = user_of(request)
    if not user.is_applicant:
        raise PermissionDenied(_("This part of the site is for applicants."))
    return user


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if not user.is_applicant:
        return redirect(
            "officer:dashboard" if user.role in User.OFFICER_ROLES or user.is_auditor else "home"
        )
    organizations = list(organization_list_for_user(user=user))
    applications = list(application_list_for_viewer(viewer=user).order_by("-updated_at")[:50])
    programs = list(program_list_open())
    applied = {(a.program_id) for a in applications if a.is_open}
    return render(
        request,
        "applicants/dashboard.html",
        {
            "organizations": organizations,
            "applications": applications,
            "programs": programs,
            "applied": applied,
        },
    )


# --- Organizations -----------------------------------------------------------------------------


def _org_values(data: dict[str, Any]) -> dict[str, Any]:
    values = dict(data)
    if values.get("annual_revenue_cents") is None:
        values["annual_revenue_cents"] = 0
    return values


@login_required
def organization_create(request: HttpRequest) -> HttpResponse:
    user = _applicant_required(request)
    if not can_create_organization(user):
        raise PermissionDenied
    form = OrganizationForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            organization = services.organization_create(
                actor=user, **_org_values(form.cleaned_data)
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request,
                _("%(name)s is registered. You can now apply to a program.")
                % {"name": organization.legal_name},
            )
            return redirect(
                safe_next(request, request.GET.get("next"), reverse("applicants:dashboard"))
            )
    return render(request, "applicants/organization_form.html", {"form": form, "creating": True})


@login_required
def organization_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    organization = organization_get_for(viewer=user, organization_id=pk, action=OrgAction.VIEW)
    invite_form = InviteForm(posted(request))
    if request.method == "POST":
        organization_get_for(viewer=user, organization_id=pk, action=OrgAction.INVITE)
        if invite_form.is_valid():
            try:
                services.invitation_create(
                    actor=user,
                    organization_id=organization.pk,
                    email=invite_form.cleaned_data["email"],
                )
            except DomainError as exc:
                add_domain_error(invite_form, exc)
            else:
                messages.success(
                    request, _("Invitation sent to %(email)s.") % invite_form.cleaned_data
                )
                return redirect("applicants:organization_detail", pk=pk)
    memberships = organization.memberships.select_related("user").order_by("created_at")
    invitations = organization.invitations.filter(accepted_at__isnull=True).select_related(
        "invited_by"
    )
    is_owner = any(m.user_id == user.pk and m.role == Membership.Role.OWNER for m in memberships)
    return render(
        request,
        "applicants/organization_detail.html",
        {
            "organization": organization,
            "memberships": memberships,
            "invitations": invitations,
            "invite_form": invite_form,
            "is_owner": is_owner,
        },
    )


@login_required
def organization_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    organization = organization_get_for(viewer=user, organization_id=pk, action=OrgAction.EDIT)
    initial = {f: getattr(organization, f) for f in services.ORG_EDITABLE_FIELDS if f != "parent"}
    form = OrganizationEditForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_update(
                actor=user, organization_id=organization.pk, **_org_values(form.cleaned_data)
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("applicants:organization_detail", pk=pk)
    return render(
        request, "applicants/organization_form.html", {"form": form, "organization": organization}
    )


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    if not request.user.is_authenticated:
        messages.info(
            request, _("Log in or create an account with the invited email address to join.")
        )
        return redirect(f"{reverse('accounts:login')}?next={request.path}")
    if request.method == "POST":
        try:
            membership = services.invitation_accept(actor=user_of(request), token=token)
        except DomainError as exc:
            # A refusal (someone else's invitation, an officer's account) answers 403.
            return render(
                request,
                "applicants/invitation.html",
                {"error": exc.message},
                status=exc.status_code,
            )
        messages.success(request, _("You joined %(org)s.") % {"org": membership.organization})
        return redirect("applicants:organization_detail", pk=membership.organization_id)
    return render(request, "applicants/invitation.html", {"token": token})


# --- Applications ------------------------------------------------------------------------------


@login_required
def application_start(request: HttpRequest, program_id: int) -> HttpResponse:
    user = _applicant_required(request)
    program = get_object_or_404(Program, pk=program_id, is_published=True)
    organizations = organization_list_for_user(user=user)
    if not organizations.exists():
        messages.info(request, _("First tell us about your organization; then you can apply."))
        back = reverse("vouchers:program_detail", args=[program.slug])
        return redirect(f"{reverse('applicants:organization_create')}?next={back}")
    form = ChooseOrganizationForm(
        posted(request),
        organizations=organizations,
        initial={"organization": organizations.first()},
    )
    if request.method == "POST" and form.is_valid():
        try:
            application = services.application_create(
                actor=user,
                organization_id=form.cleaned_data["organization"].pk,
                program_id=program.pk,
            )
        except DomainError as exc:
            if exc.code == "application_exists":
                existing = Application.objects.filter(
                    organization=form.cleaned_data["organization"],
                    program=program,
                    status__in=Application.OPEN,
                ).first()
                messages.info(request, exc.message)
                if existing:
                    return redirect("applicants:application_detail", pk=existing.pk)
            add_domain_error(form, exc)
        else:
            return redirect("applicants:application_step", pk=application.pk, step=STEP_SLUGS[0])
    return render(request, "applicants/application_start.html", {"program": program, "form": form})


def _wizard_context(
    application: Application, documents: list[Document], current: str
) -> dict[str, Any]:
    states = step_states(application, documents)
    steps = [
        {
            "slug": slug,
            "title": title,
            "complete": states[slug],
            "current": slug == current,
            "number": i + 1,
        }
        for i, (slug, title) in enumerate(STEPS)
    ]
    done = sum(1 for s in steps if s["complete"])
    return {
        "application": application,
        "steps": steps,
        "progress_done": done,
        "progress_total": len(steps),
        "progress_percent": round(100 * done / len(steps)),
    }


def _step_form(step: str, application: Application, data: Any = None) -> Any:
    if step == "project":
        return ProjectForm(data, instance=application)
    if step == "compute":
        return ComputeForm(data, instance=application, program=application.program)
    if step == "funding":
        return FundingForm(
            data,
            program=application.program,
            initial={"requested_amount_cents": application.requested_amount_cents},
        )
    if step == "declarations":
        form = DeclarationsForm(data, instance=application)
        if not application.declared_by_name and data is None:
            form.initial["declared_by_name"] = ""
        return form
    raise Http404


@login_required
def application_step(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    user = user_of(request)
    if step not in STEP_SLUGS:
        raise Http404
    application = application_get_for(viewer=user, application_id=pk, action=AppAction.EDIT)
    if not application.is_editable:
        messages.info(request, _("This application is submitted and locked."))
        return redirect("applicants:application_detail", pk=pk)
    if step == "documents":
        return _documents_step(request, application)
    form = _step_form(step, application, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items()}
        try:
            services.application_update(actor=user, application_id=application.pk, values=values)
        except DomainError as exc:
            add_domain_error(form, exc, {"requested_amount": "requested_amount_cents"})
        else:
            return _after_save(request, application, step)
    documents = list(application_documents(application=application))
    ctx = _wizard_context(application, documents, step)
    ctx.update({"form": form, "step": step})
    return render(request, "applicants/wizard_step.html", ctx)


def _after_save(request: HttpRequest, application: Application, step: str) -> HttpResponse:
    if "save_draft" in request.POST:
        messages.success(request, _("Draft saved. You can come back to it at any time."))
        return redirect("applicants:application_step", pk=application.pk, step=step)
    index = STEP_SLUGS.index(step)
    if index + 1 < len(STEP_SLUGS):
        return redirect(
            "applicants:application_step", pk=application.pk, step=STEP_SLUGS[index + 1]
        )
    return redirect("applicants:application_review", pk=application.pk)


def _documents_step(request: HttpRequest, application: Application) -> HttpResponse:
    user = user_of(request)
    form = DocumentForm()
    if request.method == "POST":
        if "remove" in request.POST:
            try:
                services.document_remove(
                    actor=user,
                    application_id=application.pk,
                    document_id=int(request.POST["remove"]),
                )
            except (DomainError, ValueError) as exc:
                messages.error(
                    request, getattr(exc, "message", _("That document could not be removed."))
                )
            else:
                messages.success(request, _("Document removed."))
            return redirect("applicants:application_step", pk=application.pk, step="documents")
        if "upload" in request.POST or request.FILES:
            form = DocumentForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    document = services.document_add(
                        actor=user,
                        application_id=application.pk,
                        kind=form.cleaned_data["kind"],
                        upload=form.cleaned_data["file"],
                    )
                except DomainError as exc:
                    add_domain_error(form, exc)
                else:
                    messages.success(
                        request, _("%(name)s uploaded.") % {"name": document.original_name}
                    )
                    return redirect(
                        "applicants:application_step", pk=application.pk, step="documents"
                    )
        else:
            return _after_save(request, application, "documents")
    documents = list(application_documents(application=application))
    ctx = _wizard_context(application, documents, "documents")
    ctx.update({"form": form, "step": "documents", "documents": documents})
    return render(request, "applicants/wizard_documents.html", ctx)


@login_required
def application_review(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    application = application_get_for(viewer=user, application_id=pk, action=AppAction.EDIT)
    if not application.is_editable:
        return redirect("applicants:application_detail", pk=pk)
    documents = list(application_documents(application=application))
    missing = missing_items(application, documents)
    ctx = _wizard_context(application, documents, "review")
    ctx.update(
        {
            "documents": documents,
            "missing": missing,
            "email_unverified": not user.has_verified_email,
        }
    )
    return render(request, "applicants/application_review.html", ctx)


@login_required
@require_POST
def application_submit(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    application = application_get_for(viewer=user, application_id=pk, action=AppAction.SUBMIT)
    try:
        application = services.application_submit(actor=user, application_id=application.pk)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("applicants:application_review", pk=pk)
    return redirect("applicants:application_receipt", pk=pk, number=application.version)


@login_required
def application_receipt(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    user = user_of(request)
    application = application_get_for(viewer=user, application_id=pk, action=AppAction.VIEW_CONTENT)
    version = get_object_or_404(application.versions.select_related("submitted_by"), number=number)
    return render(
        request, "applicants/receipt.html", {"application": application, "version": version}
    )


APPLICANT_TIMELINE_ACTIONS = {
    "application.screened",
    "application.approved",
    "application.rejected",
    "application.created",
    "application.submitted",
    "application.returned",
    "application.withdrawn",
    "application.document_added",
    "application.document_removed",
}


@login_required
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    application = application_get_for(viewer=user, application_id=pk, action=AppAction.VIEW)
    if not user.is_applicant:
        return redirect("officer:application_detail", pk=pk)
    events = [
        e
        for e in audit_events_for_target(target_type="applicants.application", target_id=str(pk))
        if e.action in APPLICANT_TIMELINE_ACTIONS
    ]
    for event in events:  # applicants see their colleagues by name, officers as the office
        officer = event.actor is not None and event.actor.role != User.Role.APPLICANT
        event.display_actor = _("Program office") if officer else event.actor_label  # type: ignore[attr-defined]
    return render(
        request,
        "applicants/application_detail.html",
        {
            "application": application,
            "versions": list(application_versions(application=application)),
            "documents": list(application_documents(application=application)),
            "events": events,
            "withdraw_form": WithdrawForm(),
            "can_withdraw": Application.Status.WITHDRAWN
            in Application.TRANSITIONS[application.status],
            "screening": [
                {"result": r, "reason": describe(r.rule, r.passed, r.parameter, r.observed)}
                for r in screening_results(application=application)
            ],
            "decision": Decision.objects.filter(application=application).first(),
            "voucher": Voucher.objects.filter(application=application).first(),
        },
    )


@login_required
def application_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    application = application_get_for(viewer=user, application_id=pk, action=AppAction.WITHDRAW)
    form = WithdrawForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.application_withdraw(
                actor=user, application_id=application.pk, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("Application %(ref)s was withdrawn.") % {"ref": application.reference}
            )
        return redirect("applicants:application_detail", pk=pk)
    return render(
        request, "applicants/application_withdraw.html", {"application": application, "form": form}
    )


@login_required
def document_download(request: HttpRequest, pk: int, document_id: int) -> FileResponse:
    """Serve a document after the same permission check as its application. Never inline."""
    user = user_of(request)
    application = application_get_for(viewer=user, application_id=pk, action=AppAction.VIEW_CONTENT)
    document = get_object_or_404(Document, pk=document_id, application=application)
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=document.original_name,
        content_type=document.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
