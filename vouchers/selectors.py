"""Reads of the officers' side, with visibility applied at the source."""

from typing import Any

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from applicants.models import Application
from applicants.selectors import application_list_for_viewer
from audit.services import audit_refuse
from vouchers.models import (
    AwardLetter,
    ConflictDeclaration,
    Program,
    Review,
    ReviewAssignment,
    ScreeningResult,
    Voucher,
)
from vouchers.policies import VoucherAction, voucher_allows

QUEUES = ("screening", "review", "decision", "assigned")


def program_list_open() -> QuerySet[Program]:
    """Published programs accepting applications right now, closing soonest first."""
    now = timezone.now()
    return Program.objects.filter(is_published=True, opens_at__lte=now, closes_at__gt=now).order_by(
        "closes_at"
    )


def program_list_public() -> QuerySet[Program]:
    """Every published program: open, upcoming and closed (for the public list)."""
    return Program.objects.filter(is_published=True).order_by("-opens_at")


def in_queue(qs: QuerySet[Application], *, viewer: User, name: str) -> QuerySet[Application]:
    """Narrow a visible-applications queryset to one of the officers' work queues.

    screening: a rule failed and waits for an officer; review: in review, reviews still
    missing; decision: enough reviews, waiting for an approver; assigned: the viewer's own
    review assignments not yet reviewed.
    """
    if name == "screening":
        return qs.filter(status=Application.Status.SCREENING)
    if name == "review":
        return qs.filter(status=Application.Status.IN_REVIEW, ready_for_decision=False)
    if name == "decision":
        return qs.filter(status=Application.Status.IN_REVIEW, ready_for_decision=True)
    if name == "assigned":
        mine = ReviewAssignment.objects.filter(
            application=OuterRef("pk"), reviewer=viewer, removed_at__isnull=True
        )
        reviewed = Review.objects.filter(
            application=OuterRef("pk"), reviewer=viewer, version=OuterRef("version")
        )
        return qs.filter(Exists(mine), ~Exists(reviewed), status=Application.Status.IN_REVIEW)
    raise Http404("No such queue.")


def application_queue(*, viewer: User, name: str) -> QuerySet[Application]:
    """One of the officers' work queues, oldest submission first."""
    visible = application_list_for_viewer(viewer=viewer)
    return in_queue(visible, viewer=viewer, name=name).order_by("submitted_at", "id")


def queue_counts(*, viewer: User) -> dict[str, int]:
    return {name: application_queue(viewer=viewer, name=name).count() for name in QUEUES}


def with_content_flag(qs: QuerySet[Application], *, viewer: User) -> QuerySet[Application]:
    """Annotate `content_visible`: officers who must declare conflicts see titles and amounts in
    lists only for applications where they declared none.

    A LEFT JOIN on the viewer's own declaration (at most one row per application, by the unique
    constraint) rather than EXISTS: PostgreSQL plans the EXISTS as a hashed sub-plan over every
    declaration the officer ever made, which grows; the join stays an index lookup per row.
    """
    from applicants.policies import COI_ROLES

    if viewer.role in COI_ROLES:
        return qs.annotate(
            own_declaration=FilteredRelation(
                "conflict_declarations",
                condition=Q(
                    conflict_declarations__officer=viewer, conflict_declarations__has_conflict=False
                ),
            ),
            content_visible=ExpressionWrapper(
                Q(own_declaration__isnull=False), output_field=BooleanField()
            ),
        )
    return qs.annotate(content_visible=Value(True))


def screening_results(*, application: Application) -> list[ScreeningResult]:
    return list(
        application.screening_results.filter(version=application.version).select_related(
            "overridden_by"
        )
    )


def reviews_visible_to(*, viewer: User, application: Application) -> list[Review]:
    """A reviewer sees other reviews only once their own review of this version is in;
    approvers, administrators and auditors see all; applicants see none."""
    qs = application.reviews.select_related("reviewer").order_by("version", "created_at")
    if viewer.role in (User.Role.APPROVER, User.Role.ADMIN, User.Role.AUDITOR):
        return list(qs)
    if viewer.role == User.Role.REVIEWER:
        own_done = qs.filter(reviewer=viewer, version=application.version).exists()
        return list(qs if own_done else qs.filter(reviewer=viewer))
    return []


def active_assignments(*, application: Application) -> list[ReviewAssignment]:
    return list(
        application.review_assignments.filter(removed_at__isnull=True).select_related("reviewer")
    )


def reviewers_available(*, application: Application) -> QuerySet[User]:
    conflicted = ConflictDeclaration.objects.filter(
        application=application, has_conflict=True
    ).values("officer_id")
    assigned = ReviewAssignment.objects.filter(
        application=application, removed_at__isnull=True
    ).values("reviewer_id")
    return (
        User.objects.filter(role=User.Role.REVIEWER, is_active=True)
        .exclude(Q(pk__in=conflicted) | Q(pk__in=assigned))
        .order_by("full_name")
    )


def voucher_list_for_viewer(*, viewer: User) -> QuerySet[Voucher]:
    qs = Voucher.objects.select_related("organization", "program", "application")
    if not viewer.is_authenticated or not viewer.is_active:
        return qs.none()
    if viewer.role == User.Role.APPLICANT:
        return qs.filter(organization__memberships__user=viewer)
    if voucher_allows(viewer, Voucher(), VoucherAction.VIEW):
        return qs
    return qs.none()


def voucher_get_for(*, viewer: User, voucher_id: Any, action: VoucherAction) -> Voucher:
    try:
        pk = int(voucher_id)
    except (TypeError, ValueError):
        raise Http404("No such voucher.") from None
    voucher = (
        Voucher.objects.select_related("organization", "program", "application")
        .filter(pk=pk)
        .first()
    )
    if voucher is None:
        raise Http404("No such voucher.")
    if not voucher_allows(viewer, voucher, action):
        audit_refuse(
            viewer=viewer,
            attempted=str(action),
            target=voucher,
            reveal=voucher_allows(viewer, voucher, VoucherAction.VIEW),
            not_found="No such voucher.",
        )
    return voucher


def letters_of(*, voucher: Voucher) -> list[AwardLetter]:
    return list(voucher.letters.order_by("-version"))


def letter_current(*, voucher: Voucher) -> AwardLetter | None:
    return voucher.letters.filter(superseded_at__isnull=True).order_by("-version").first()
