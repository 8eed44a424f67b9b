"""The officers' pages: queues, the application page with its conflict gate, and every action
(screening override, assignment, review, decision, return, letters)."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.utils import user_of
from applicants.filters import ApplicationFilter
from applicants.forms import ReturnForm
from applicants.models import Application
from applicants.policies import (
    COI_ROLES,
    OFFICER_VIEW_ROLES,
    AppAction,
    application_allows,
    conflict_state,
)
from applicants.rules import diff
from applicants.selectors import application_documents, application_get_for, application_versions
from applicants.services import application_return
from audit.selectors import audit_events_for_target
from audit.services import audit_download
from core.exceptions import DomainError
from core.forms import add_domain_error
from vouchers import services
from vouchers.forms import (
    ApproveForm,
    AssignForm,
    ConflictForm,
    OverrideForm,
    ReissueForm,
    RejectForm,
    ReviewForm,
)
from vouchers.models import AwardLetter, Decision, Program, ReviewAssignment, Voucher
from vouchers.policies import VoucherAction
from vouchers.screening import describe
from vouchers.selectors import (
    QUEUES,
    active_assignments,
    application_queue,
    letter_current,
    queue_counts,
    reviewers_available,
    reviews_visible_to,
    screening_results,
    voucher_get_for,
    with_content_flag,
)

QUEUE_TITLES = {
    "screening": _("Screening exceptions"),
    "review": _("Awaiting review"),
    "decision": _("Awaiting decision"),
    "assigned": _("My reviews"),
}
SORTS = {
    "oldest": ("submitted_at", "id"),
    "newest": ("-submitted_at", "-id"),
    "amount": ("-requested_amount_cents", "id"),
}


def _officer(request: HttpRequest) -> User:
    user = user_of(request)
    if user.role not in OFFICER_VIEW_ROLES:
        raise PermissionDenied(_("This part of the site is for program officers and auditors."))
    return user


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = _officer(request)
    counts = queue_counts(viewer=user)
    queues = [
        {"name": n, "title": QUEUE_TITLES[n], "count": counts[n]}
        for n in QUEUES
        if n != "assigned" or user.role == User.Role.REVIEWER
    ]
    return render(request, "vouchers/officer_dashboard.html", {"queues": queues})


@login_required
def queue(request: HttpRequest, name: str) -> HttpResponse:
    user = _officer(request)
    if name not in QUEUES:
        raise Http404
    base = application_queue(viewer=user, name=name)
    params = {
        "search": (request.GET.get("q") or "").strip()[:100],
        "program": request.GET.get("program") or "",
    }
    filterset = ApplicationFilter(params, queryset=base)
    qs = filterset.qs if filterset.is_valid() else base.none()
    sort = request.GET.get("sort") or "oldest"
    if sort not in SORTS:
        sort = "oldest"
    qs = with_content_flag(qs.order_by(*SORTS[sort]), viewer=user)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "vouchers/officer_queue.html",
        {
            "page": page,
            "name": name,
            "title": QUEUE_TITLES[name],
            "q": params["search"],
            "program": params["program"],
            "programs": Program.objects.order_by("-opens_at").only("pk", "code", "name", "name_zh"),
            "sort": sort,
            "sorts": [
                ("oldest", _("Oldest first")),
                ("newest", _("Newest first")),
                ("amount", _("Largest request")),
            ],
        },
    )


@login_required
def applications(request: HttpRequest) -> HttpResponse:
    """Every application the officer may see, with status filter and search."""
    user = _officer(request)
    status = request.GET.get("status") or ""
    search = (request.GET.get("q") or "").strip()[:100]
    params = {"status": [status] if status in Application.Status.values else [], "search": search}
    from applicants.selectors import application_list_for_viewer

    visible = application_list_for_viewer(viewer=user).order_by("-submitted_at", "-id")
    filterset = ApplicationFilter(params, queryset=visible)
    qs = with_content_flag(filterset.qs if filterset.is_valid() else visible.none(), viewer=user)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "vouchers/officer_applications.html",
        {"page": page, "status": status, "q": search, "statuses": Application.Status.choices},
    )


def _allowed(user: User, application: Application) -> dict[str, bool]:
    return {action.value: application_allows(user, application, action) for action in AppAction}


@login_required
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _officer(request)
    application = application_get_for(viewer=user, application_id=pk, action=AppAction.VIEW)
    if user.role in COI_ROLES:
        state = conflict_state(user, application)
        if state is None or state is True:
            return render(
                request,
                "vouchers/officer_conflict.html",
                {
                    "application": application,
                    "conflicted": state is True,
                    "form": ConflictForm(),
                },
            )
    return render(request, "vouchers/officer_application.html", _page_context(user, application))


def _page_context(user: User, application: Application, **forms: Any) -> dict[str, Any]:
    versions = list(application_versions(application=application))
    results = screening_results(application=application)
    allowed = _allowed(user, application)
    assignments = active_assignments(application=application)
    assigned = any(a.reviewer_id == user.pk for a in assignments)
    reviews = reviews_visible_to(viewer=user, application=application)
    own_review = next(
        (r for r in reviews if r.reviewer_id == user.pk and r.version == application.version), None
    )
    decision = Decision.objects.filter(application=application).select_related("decided_by").first()
    voucher = Voucher.objects.filter(application=application).first()
    criteria = list(application.program.criteria.all())
    ctx: dict[str, Any] = {
        "application": application,
        "latest": versions[-1] if versions else None,
        "version_diffs": list(
            reversed(
                [
                    {"from": prev, "to": cur, "changes": diff(prev.snapshot, cur.snapshot)}
                    for prev, cur in zip(versions, versions[1:], strict=False)
                ]
            )
        ),
        "documents": list(application_documents(application=application)),
        "events": audit_events_for_target(
            target_type="applicants.application", target_id=str(application.pk)
        ),
        "screening": [
            {"result": r, "reason": describe(r.rule, r.passed, r.parameter, r.observed)}
            for r in results
        ],
        "allowed": allowed,
        "assignments": assignments,
        "reviews": reviews,
        "criteria": criteria,
        "decision": decision,
        "voucher": voucher,
        "letter": letter_current(voucher=voucher) if voucher else None,
        "can_screen": allowed["screen"] and application.status == Application.Status.SCREENING,
        "can_assign": allowed["assign"]
        and application.status in (Application.Status.SCREENING, Application.Status.IN_REVIEW),
        "can_review": allowed["review"]
        and assigned
        and own_review is None
        and application.status == Application.Status.IN_REVIEW,
        "can_decide": allowed["decide"]
        and decision is None
        and application.status in (Application.Status.SCREENING, Application.Status.IN_REVIEW),
        "can_return": allowed["return"]
        and Application.Status.RETURNED in Application.TRANSITIONS[application.status],
        "override_form": forms.get("override_form") or OverrideForm(),
        "assign_form": forms.get("assign_form")
        or AssignForm(reviewers=reviewers_available(application=application)),
        "review_form": forms.get("review_form") or ReviewForm(criteria=criteria),
        "approve_form": forms.get("approve_form")
        or ApproveForm(initial={"amount_cents": application.requested_amount_cents}),
        "reject_form": forms.get("reject_form") or RejectForm(),
        "return_form": forms.get("return_form") or ReturnForm(),
        "reissue_form": forms.get("reissue_form") or ReissueForm(),
    }
    ctx["four_eyes_blocked"] = ctx["can_decide"] and (
        any(r.reviewer_id == user.pk for r in reviews) or assigned
    )
    return ctx


def _act(
    request: HttpRequest,
    pk: int,
    action: AppAction,
    form: Any,
    run: Callable[[User, Any], Any],
    form_key: str,
    success: str,
    field_map: dict[str, str] | None = None,
) -> HttpResponse:
    """POST handler shape shared by every officer action: check, validate, call, report."""
    user = _officer(request)
    application = application_get_for(viewer=user, application_id=pk, action=action)
    if form.is_valid():
        try:
            run(user, form)
        except DomainError as exc:
            add_domain_error(form, exc, field_map)  # the services name fields as the API does
        else:
            messages.success(request, success)
            return redirect("officer:application_detail", pk=pk)
    application.refresh_from_db()
    ctx = _page_context(user, application, **{form_key: form})
    ctx["open_form"] = form_key
    return render(request, "vouchers/officer_application.html", ctx, status=400)


@login_required
@require_POST
def declare_conflict(request: HttpRequest, pk: int) -> HttpResponse:
    user = _officer(request)
    application = application_get_for(
        viewer=user, application_id=pk, action=AppAction.DECLARE_CONFLICT
    )
    form = ConflictForm(request.POST)
    if form.is_valid():
        try:
            services.conflict_declare(
                actor=user,
                application_id=application.pk,
                has_conflict=form.cleaned_data["has_conflict"],
                note=form.cleaned_data["note"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return redirect("officer:application_detail", pk=pk)
    return render(
        request,
        "vouchers/officer_conflict.html",
        {"application": application, "conflicted": False, "form": form},
        status=400,
    )


@login_required
@require_POST
def override(request: HttpRequest, pk: int, result_id: int) -> HttpResponse:
    return _act(
        request,
        pk,
        AppAction.SCREEN,
        OverrideForm(request.POST),
        lambda user, form: services.screening_override(
            actor=user,
            application_id=pk,
            result_id=result_id,
            justification=form.cleaned_data["justification"],
        ),
        "override_form",
        _("The rule was overridden; the justification is recorded."),
    )


@login_required
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_object_or_404(Application, pk=pk)
    form = AssignForm(request.POST, reviewers=reviewers_available(application=application))
    return _act(
        request,
        pk,
        AppAction.ASSIGN,
        form,
        lambda user, form: services.reviewer_assign(
            actor=user, application_id=pk, reviewer_id=form.cleaned_data["reviewer"].pk
        ),
        "assign_form",
        _("Reviewer assigned; they were notified."),
    )


@login_required
@require_POST
def unassign(request: HttpRequest, pk: int, assignment_id: int) -> HttpResponse:
    user = _officer(request)
    application_get_for(viewer=user, application_id=pk, action=AppAction.ASSIGN)
    assignment = get_object_or_404(ReviewAssignment, pk=assignment_id, application_id=pk)
    try:
        services.reviewer_unassign(
            actor=user, assignment_id=assignment.pk, reason=request.POST.get("reason", "")[:300]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("officer:application_detail", pk=pk)


@login_required
@require_POST
def review(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_object_or_404(Application.objects.select_related("program"), pk=pk)
    form = ReviewForm(request.POST, criteria=list(application.program.criteria.all()))
    return _act(
        request,
        pk,
        AppAction.REVIEW,
        form,
        lambda user, form: services.review_submit(
            actor=user,
            application_id=pk,
            scores=form.scores(),
            recommendation=form.cleaned_data["recommendation"],
            recommended_amount_cents=form.cleaned_data["recommended_amount_cents"],
            comments=form.cleaned_data["comments"],
        ),
        "review_form",
        _("Your review is in. You can now read the other reviews."),
        field_map={"recommended_amount": "recommended_amount_cents"},
    )


@login_required
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        AppAction.DECIDE,
        ApproveForm(request.POST),
        lambda user, form: services.application_approve(
            actor=user,
            application_id=pk,
            amount_cents=form.cleaned_data["amount_cents"],
            reasons=form.cleaned_data["reasons"],
        ),
        "approve_form",
        _("Approved. The voucher is issued and the award letter is being prepared."),
        field_map={"amount": "amount_cents"},
    )


@login_required
@require_POST
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        AppAction.DECIDE,
        RejectForm(request.POST),
        lambda user, form: services.application_reject(
            actor=user, application_id=pk, reasons=form.cleaned_data["reasons"]
        ),
        "reject_form",
        _("Rejected. The applicant has been told why."),
    )


@login_required
@require_POST
def return_application(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        AppAction.RETURN,
        ReturnForm(request.POST),
        lambda user, form: application_return(
            actor=user, application_id=pk, message=form.cleaned_data["message"]
        ),
        "return_form",
        _("Returned to the applicant."),
    )


@login_required
@require_POST
def letter_retry(request: HttpRequest, pk: int, letter_id: int) -> HttpResponse:
    user = _officer(request)
    application_get_for(viewer=user, application_id=pk, action=AppAction.VIEW_CONTENT)
    letter = get_object_or_404(AwardLetter, pk=letter_id, voucher__application_id=pk)
    # Who may retry is who may reissue (as the API asks): refused with a 403, not a message.
    voucher_get_for(viewer=user, voucher_id=letter.voucher_id, action=VoucherAction.REISSUE_LETTER)
    try:
        services.award_letter_retry(actor=user, letter_id=letter.pk)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The letter is queued for rendering again."))
    return redirect("officer:application_detail", pk=pk)


@login_required
@require_POST
def letter_reissue(request: HttpRequest, pk: int) -> HttpResponse:
    user = _officer(request)
    voucher = get_object_or_404(Voucher, application_id=pk)
    voucher_get_for(viewer=user, voucher_id=voucher.pk, action=VoucherAction.REISSUE_LETTER)
    form = ReissueForm(request.POST)
    return _act(
        request,
        pk,
        AppAction.VIEW_CONTENT,
        form,
        lambda user, form: services.award_letter_reissue(
            actor=user, voucher_id=voucher.pk, reason=form.cleaned_data["reason"]
        ),
        "reissue_form",
        _("A corrected letter is being prepared; the previous one is marked superseded."),
    )


@login_required
def letter_download(request: HttpRequest, pk: int, letter_id: int) -> FileResponse:
    user = _officer(request)
    application_get_for(viewer=user, application_id=pk, action=AppAction.VIEW_CONTENT)
    letter = get_object_or_404(
        AwardLetter, pk=letter_id, voucher__application_id=pk, status=AwardLetter.Status.READY
    )
    audit_download(
        actor=user,
        target=letter,
        filename=f"{letter.reference}.pdf",
        data={"sha256": letter.sha256},
    )
    return _pdf_response(letter)


def _pdf_response(letter: AwardLetter) -> FileResponse:
    response = FileResponse(
        letter.pdf.open("rb"),
        as_attachment=True,
        filename=f"{letter.reference}.pdf",
        content_type="application/pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
