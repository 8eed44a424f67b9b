"""The officers' work queues and the decision-stage page issue a fixed number of queries.

As tests/applicants/test_query_counts.py: each test counts the queries of the same page with few
and with many rows (or reviews and assignments) and asserts that the counts are equal and under
a fixed bound. A count that grows is an N+1: a relation read per row that the selector does not
fetch. The bounds are today's counts plus one. bench/pages.py measures the same pages under load
at 100,000 applications.
"""

from datetime import date
from itertools import count
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from applicants.filters import ApplicationFilter
from applicants.models import Application, ApplicationVersion, Organization
from tests.conftest import api_as, declare_no_conflict
from tests.factories import UserFactory, make_uscc
from tests.vouchers.conftest import SCORES
from vouchers import services
from vouchers.models import ConflictDeclaration

pytestmark = pytest.mark.django_db

# Today's count + 1.
# session, user, count, page (the no-conflict flag is part of the page's query), programs for
# the program filter: 5 today
QUEUE_MAX_QUERIES = 6
# session, user, application, conflict declaration, versions, screening, documents, events,
# assignments, reviews, decision, voucher, rubric, reviewers who can be assigned: 14 today
DECISION_PAGE_MAX_QUERIES = 15
QUEUE_API_MAX_QUERIES = 3  # count, page: 2 today (authentication is forced)

QUEUE_STATES = {
    "screening": {"status": Application.Status.SCREENING},
    "review": {"status": Application.Status.IN_REVIEW, "ready_for_decision": False},
    "decision": {
        "status": Application.Status.IN_REVIEW,
        "reviews_completed": 1,
        "ready_for_decision": True,
    },
}

_numbers = count(800_000)  # registration numbers that factories' sequences never reach


def _queued(
    n: int, *, queue: str, program: Any, provider: Any, created_by: Any, officer: Any
) -> list[Application]:
    """n applications waiting in `queue`, each from its own organization (one open application
    per organization and program), with their submitted version; the officer declared no
    conflict on every other one, so the queue lists rows with and without visible content."""
    now = timezone.now()
    organizations = Organization.objects.bulk_create(
        Organization(
            legal_name=f"Queued Startup {number} Co., Ltd.",
            registration_number=make_uscc(number),
            region="CN-SH",
            incorporated_on=date(2023, 5, 1),
            headcount=12,
        )
        for number in (next(_numbers) for _ in range(n))
    )
    applications = Application.objects.bulk_create(
        Application(
            organization=organization,
            program=program,
            reference=f"{program.code}-Q{organization.pk:06d}",
            version=1,
            currency=program.currency,
            title=f"Project of {organization.legal_name}",
            intended_provider=provider,
            requested_amount_cents=150_000_00 + organization.pk,
            submitted_at=now,
            created_by=created_by,
            **QUEUE_STATES[queue],
        )
        for organization in organizations
    )
    ApplicationVersion.objects.bulk_create(
        ApplicationVersion(
            application=application,
            number=1,
            receipt_number=f"{application.reference}-V1",
            snapshot={"title": application.title},
            content_sha256="0" * 64,
            submitted_at=now,
            submitted_by=created_by,
        )
        for application in applications
    )
    ConflictDeclaration.objects.bulk_create(
        ConflictDeclaration(application=application, officer=officer, has_conflict=False)
        for application in applications[::2]
    )
    return applications


def _queries(client: Any, url: str) -> int:
    """Queries of one GET, after a first GET has warmed per-process caches."""
    client.get(url)
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(context)


@pytest.mark.parametrize("queue", ["screening", "review", "decision"])
@pytest.mark.parametrize("query", ["", "?q=Queued&sort=amount", "?sort=newest&page=2"])
def test_officer_queue_queries_do_not_grow_with_rows(
    queue, query, client, approver, program, provider, applicant, django_assert_max_num_queries
):
    client.force_login(approver)
    url = reverse("officer:queue", args=[queue]) + query
    made = {"program": program, "provider": provider, "created_by": applicant, "officer": approver}
    _queued(30, queue=queue, **made)  # 25 rows on page 1, 5 on page 2
    few = _queries(client, url)
    _queued(90, queue=queue, **made)
    with django_assert_max_num_queries(QUEUE_MAX_QUERIES) as many:
        response = client.get(url)
    page = response.content.decode()
    assert page.count(f"{program.code}-Q") == 25  # a full page of this queue's rows
    assert "Project of Queued Startup" in page  # titles shown where the approver declared
    assert len(many) == few


def test_officer_queues_hold_only_their_rows(client, approver, program, provider, applicant):
    made = {"program": program, "provider": provider, "created_by": applicant, "officer": approver}
    expected = {queue: _queued(2, queue=queue, **made) for queue in QUEUE_STATES}
    client.force_login(approver)
    for queue, applications in expected.items():
        page = client.get(reverse("officer:queue", args=[queue])).content.decode()
        assert page.count(f"{program.code}-Q") == 2
        assert all(a.reference in page for a in applications)


def _add_reviews(application: Any, *, approver: Any, reviewed: int, pending: int) -> None:
    """More reviewers on the application: `reviewed` of them assigned and reviewed, `pending`
    assigned and not yet reviewed, and one assigned, then removed."""
    for i in range(reviewed + pending + 1):
        reviewer = UserFactory(role=User.Role.REVIEWER)
        declare_no_conflict(reviewer, application)
        assignment = services.reviewer_assign(
            actor=approver, application_id=application.pk, reviewer_id=reviewer.pk
        )
        if i < reviewed:
            services.review_submit(
                actor=reviewer,
                application_id=application.pk,
                scores=SCORES,
                recommendation="fund",
                comments=f"Review {i + 2}: credible team.",
            )
        elif i == reviewed + pending:
            services.reviewer_unassign(
                actor=approver, assignment_id=assignment.pk, reason="workload"
            )


def test_decision_page_queries_do_not_grow_with_reviews_and_assignments(
    client, ready, approver, django_assert_max_num_queries
):
    """The approver's page of an application waiting for a decision: the decision panel, every
    review with its scores, the reviewers assigned, and the reviewers who could be assigned."""
    client.force_login(approver)
    url = reverse("officer:application_detail", args=[ready.pk])
    one_review = _queries(client, url)
    _add_reviews(ready, approver=approver, reviewed=5, pending=3)
    UserFactory.create_batch(10, role=User.Role.REVIEWER)  # more reviewers to choose from
    with django_assert_max_num_queries(DECISION_PAGE_MAX_QUERIES) as six_reviews:
        response = client.get(url)
    page = response.content.decode()
    assert 'data-testid="decision-panel"' in page and 'data-testid="approve"' in page
    assert page.count('data-testid="review"') == 6
    assert len(six_reviews) == one_review


@pytest.mark.skipif(
    "queue" not in ApplicationFilter.base_filters, reason="the API has no ?queue= filter"
)
@pytest.mark.parametrize("queue", ["screening", "review", "decision"])
def test_application_list_api_queue_queries_do_not_grow_with_page_size(
    queue, approver, program, provider, applicant, django_assert_max_num_queries
):
    made = {"program": program, "provider": provider, "created_by": applicant, "officer": approver}
    _queued(120, queue=queue, **made)
    client = api_as(approver)
    url = f"{reverse('api:applications')}?queue={queue}"
    small = _queries(client, f"{url}&page_size=5")
    with django_assert_max_num_queries(QUEUE_API_MAX_QUERIES) as captured:
        response = client.get(f"{url}&page_size=100")
    assert len(response.json()["results"]) == 100
    assert response.json()["count"] == 120
    assert len(captured) == small
