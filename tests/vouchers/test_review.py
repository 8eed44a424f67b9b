"""Conflict of interest before content, assignments, rubric reviews, who sees which review."""

import pytest
from django.urls import reverse

from applicants.models import Application
from audit.models import AuditAction, AuditEvent
from core.exceptions import ConflictError, DomainError, NotAllowedError
from notifications.models import Notification
from tests.conftest import api_as, declare_no_conflict
from tests.factories import UserFactory
from tests.vouchers.conftest import SCORES
from vouchers import services
from vouchers.models import ConflictDeclaration, Review, ReviewAssignment
from vouchers.selectors import reviews_visible_to

pytestmark = pytest.mark.django_db


# --- the conflict-of-interest gate ------------------------------------------------------------


def test_reviewer_without_declaration_cannot_fetch_content_through_the_api(reviewer, submitted):
    client = api_as(reviewer)
    for suffix in ("", "documents/", "versions/", "reviews/", "screening/"):
        response = client.get(f"/api/v1/applications/{submitted.pk}/{suffix}")
        assert response.status_code == 403, suffix
        assert response.json()["error"]["code"] == "conflict_declaration_required"
    doc = submitted.documents.first()
    assert client.get(f"/api/v1/applications/{submitted.pk}/documents/{doc.pk}/").status_code == 403
    listing = client.get("/api/v1/applications/").json()["results"][0]
    assert listing["title"] is None and listing["requested_amount"] is None
    assert listing["organization"]["legal_name"] == submitted.organization.legal_name


def test_declaring_no_conflict_opens_the_content(reviewer, submitted):
    client = api_as(reviewer)
    response = client.post(
        f"/api/v1/applications/{submitted.pk}/conflict-declaration/",
        {"has_conflict": False},
        format="json",
    )
    assert response.status_code == 201
    assert client.get(f"/api/v1/applications/{submitted.pk}/").json()["title"] == "Legal LLM"
    assert client.get("/api/v1/applications/").json()["results"][0]["title"] == "Legal LLM"


def test_a_declared_conflict_hides_the_content_for_good(reviewer, submitted, approver):
    declare_no_conflict(approver, submitted)
    services.reviewer_assign(actor=approver, application_id=submitted.pk, reviewer_id=reviewer.pk)
    services.conflict_declare(
        actor=reviewer, application_id=submitted.pk, has_conflict=True, note="Former employer"
    )
    assert not ReviewAssignment.objects.filter(reviewer=reviewer, removed_at__isnull=True).exists()
    response = api_as(reviewer).get(f"/api/v1/applications/{submitted.pk}/")
    assert (
        response.status_code == 403 and response.json()["error"]["code"] == "conflict_of_interest"
    )
    with pytest.raises(ConflictError) as exc:
        services.conflict_declare(actor=reviewer, application_id=submitted.pk, has_conflict=False)
    assert exc.value.code == "already_declared"
    with pytest.raises(DomainError) as exc:
        services.reviewer_assign(
            actor=approver, application_id=submitted.pk, reviewer_id=reviewer.pk
        )
    assert exc.value.code == "reviewer_conflicted"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {AuditAction.CONFLICT_DECLARED, AuditAction.REVIEWER_REMOVED} <= actions


def test_repeating_the_same_declaration_is_a_no_op(reviewer, submitted):
    first = services.conflict_declare(
        actor=reviewer, application_id=submitted.pk, has_conflict=False
    )
    again = services.conflict_declare(
        actor=reviewer, application_id=submitted.pk, has_conflict=False
    )
    assert first.pk == again.pk and ConflictDeclaration.objects.count() == 1


def test_applicants_and_auditors_do_not_declare(applicant, auditor, submitted):
    for user in (applicant, auditor):
        with pytest.raises(NotAllowedError):
            services.conflict_declare(actor=user, application_id=submitted.pk, has_conflict=False)


def test_officer_page_shows_only_the_gate_before_declaring(client, reviewer, submitted):
    client.force_login(reviewer)
    url = reverse("officer:application_detail", args=[submitted.pk])
    page = client.get(url).content.decode()
    assert submitted.organization.legal_name in page
    assert (
        "Legal LLM" not in page
        and "Fine-tune" not in page
        and 'data-testid="submitted-answers"' not in page
    )
    client.post(reverse("officer:declare_conflict", args=[submitted.pk]), {"has_conflict": "no"})
    page = client.get(url).content.decode()
    assert 'data-testid="submitted-answers"' in page and "Legal LLM" in page


def test_officer_page_after_a_conflict_shows_nothing_more(client, reviewer, submitted):
    client.force_login(reviewer)
    client.post(
        reverse("officer:declare_conflict", args=[submitted.pk]),
        {"has_conflict": "yes", "note": "My cousin founded it"},
    )
    page = client.get(reverse("officer:application_detail", args=[submitted.pk])).content.decode()
    assert 'data-testid="conflicted"' in page and "Legal LLM" not in page
    assert (
        client.get(
            reverse(
                "applicants:document_download", args=[submitted.pk, submitted.documents.first().pk]
            )
        ).status_code
        == 403
    )


# --- assignments ------------------------------------------------------------------------------


def test_only_approvers_and_admins_assign_and_only_reviewers_are_assignable(
    submitted, reviewer, approver
):
    declare_no_conflict(reviewer, submitted)
    with pytest.raises(NotAllowedError):
        services.reviewer_assign(
            actor=reviewer, application_id=submitted.pk, reviewer_id=reviewer.pk
        )
    declare_no_conflict(approver, submitted)
    with pytest.raises(DomainError) as exc:
        services.reviewer_assign(
            actor=approver, application_id=submitted.pk, reviewer_id=approver.pk
        )
    assert exc.value.code == "invalid_reviewer"
    admin = UserFactory(role="admin")
    first = services.reviewer_assign(
        actor=admin, application_id=submitted.pk, reviewer_id=reviewer.pk
    )
    again = services.reviewer_assign(
        actor=approver, application_id=submitted.pk, reviewer_id=reviewer.pk
    )
    assert first.pk == again.pk
    assert Notification.objects.filter(kind="review_assigned", recipient=reviewer).count() == 1


# --- reviews ----------------------------------------------------------------------------------


@pytest.fixture
def assigned(submitted, reviewer, approver):
    declare_no_conflict(reviewer, submitted)
    declare_no_conflict(approver, submitted)
    services.reviewer_assign(actor=approver, application_id=submitted.pk, reviewer_id=reviewer.pk)
    return submitted


def _review(app, reviewer, **overrides):
    values = {"scores": SCORES, "recommendation": "fund", "comments": "Good."}
    values.update(overrides)
    return services.review_submit(actor=reviewer, application_id=app.pk, **values)


def test_review_computes_the_weighted_score_and_makes_the_application_ready(assigned, reviewer):
    review = _review(assigned, reviewer)
    # (4/5*3 + 3/5*2 + 5/5*2) / 7 = 0.8 -> 8,000 basis points
    assert review.weighted_score_bps == 8000
    assigned.refresh_from_db()
    assert assigned.reviews_completed == 1 and assigned.ready_for_decision is True


@pytest.mark.parametrize(
    ("scores", "field"),
    [
        ({"innovation": 4, "team": 3}, "scores.compute_plan"),
        ({**SCORES, "innovation": 6}, "scores.innovation"),
        ({**SCORES, "team": -1}, "scores.team"),
        ({**SCORES, "team": "3"}, "scores.team"),
        ({**SCORES, "team": 2.5}, "scores.team"),
        ({**SCORES, "bribery": 5}, "scores.bribery"),
    ],
)
def test_review_rejects_bad_scores_and_stores_nothing(assigned, reviewer, scores, field):
    with pytest.raises(DomainError) as exc:
        _review(assigned, reviewer, scores=scores)
    assert exc.value.code == "invalid_scores" and field in exc.value.fields
    assert not Review.objects.exists()


def test_reduced_recommendation_needs_an_amount_below_the_request(assigned, reviewer):
    with pytest.raises(DomainError) as exc:
        _review(assigned, reviewer, recommendation="fund_reduced", recommended_amount_cents=None)
    assert exc.value.code == "invalid_recommended_amount"
    review = _review(
        assigned, reviewer, recommendation="fund_reduced", recommended_amount_cents=150_000_00
    )
    assert review.recommended_amount_cents == 150_000_00


def test_a_review_is_final_and_needs_an_assignment(assigned, reviewer):
    _review(assigned, reviewer)
    with pytest.raises(ConflictError) as exc:
        _review(assigned, reviewer)
    assert exc.value.code == "already_reviewed"
    stranger = UserFactory(role="reviewer")
    declare_no_conflict(stranger, assigned)
    with pytest.raises(NotAllowedError) as exc:
        _review(assigned, stranger)
    assert exc.value.code == "not_assigned"


def test_reviewers_see_other_reviews_only_after_their_own(assigned, reviewer, approver, program):
    program.reviews_required = 2
    program.save()
    second = UserFactory(role="reviewer")
    declare_no_conflict(second, assigned)
    services.reviewer_assign(actor=approver, application_id=assigned.pk, reviewer_id=second.pk)
    _review(assigned, reviewer)
    assigned.refresh_from_db()
    assert assigned.ready_for_decision is False
    assert reviews_visible_to(viewer=second, application=assigned) == []
    api = api_as(second)
    assert api.get(f"/api/v1/applications/{assigned.pk}/reviews/").json() == []
    _review(assigned, second, scores={"innovation": 2, "team": 2, "compute_plan": 2})
    assert len(reviews_visible_to(viewer=second, application=assigned)) == 2
    assert len(api.get(f"/api/v1/applications/{assigned.pk}/reviews/").json()) == 2
    assert len(reviews_visible_to(viewer=approver, application=assigned)) == 2
    assigned.refresh_from_db()
    assert assigned.ready_for_decision is True and assigned.reviews_completed == 2


def test_review_only_in_review(assigned, reviewer, applicant):
    from applicants import services as applicant_services

    applicant_services.application_withdraw(actor=applicant, application_id=assigned.pk)
    with pytest.raises(ConflictError):
        _review(assigned, reviewer)


def test_review_through_the_page(client, assigned, reviewer):
    client.force_login(reviewer)
    response = client.post(
        reverse("officer:review", args=[assigned.pk]),
        {
            "score_innovation": "5",
            "score_team": "4",
            "score_compute_plan": "4",
            "recommendation": "fund",
            "comments": "Excellent.",
        },
    )
    assert response.status_code == 302
    bad = client.post(
        reverse("officer:review", args=[assigned.pk]),
        {"score_innovation": "9", "recommendation": "fund", "comments": "x"},
    )
    assert bad.status_code == 400
    assert Review.objects.count() == 1


def test_queues_follow_the_work(client, approver, reviewer, assigned):
    from vouchers.selectors import application_queue

    assert list(application_queue(viewer=approver, name="review")) == [assigned]
    assert list(application_queue(viewer=reviewer, name="assigned")) == [assigned]
    _review(assigned, reviewer)
    assert list(application_queue(viewer=approver, name="decision")) == [assigned]
    assert list(application_queue(viewer=reviewer, name="assigned")) == []
    client.force_login(approver)
    page = client.get(reverse("officer:queue", args=["decision"])).content.decode()
    assert assigned.reference in page
    assert client.get(reverse("officer:queue", args=["nonsense"])).status_code == 404
    assert Application.objects.count() == 1


def test_queue_filter_on_the_list_api(approver, reviewer, assigned):
    client = api_as(approver)
    assert [
        a["id"] for a in client.get("/api/v1/applications/", {"queue": "review"}).json()["results"]
    ] == [assigned.pk]
    assert client.get("/api/v1/applications/", {"queue": "decision"}).json()["count"] == 0
    assert client.get("/api/v1/applications/", {"queue": "nope"}).status_code == 400
    mine = api_as(reviewer).get("/api/v1/applications/", {"queue": "assigned"}).json()
    assert [a["id"] for a in mine["results"]] == [assigned.pk]
