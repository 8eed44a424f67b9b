"""Each list and detail page issues a fixed number of queries, whatever the page size.

Every test counts the queries of the same page twice, with few and with many rows (or a small
and a large page), and asserts that the counts are equal and under a fixed bound. A count that
grows with the rows is an N+1: a relation read per row that the selector does not fetch.
The bounds are today's counts plus a little room, so that a new query is a decision, not an
accident. bench/pages.py measures the same pages under load at 100,000 applications.
"""

from datetime import date
from itertools import count
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from applicants import services as applicant_services
from applicants.models import Application, ApplicationVersion, Organization
from tests.conftest import COMPLETE_ANSWERS, api_as, declare_no_conflict
from tests.factories import ProgramFactory, make_uscc, pdf_upload

pytestmark = pytest.mark.django_db

# Today's count + 1. Authentication is forced in the API tests (no session or token query).
LIST_API_MAX_QUERIES = 3  # count, page
DASHBOARD_MAX_QUERIES = 6  # session, user, organizations, applications, open programs
OFFICER_LIST_MAX_QUERIES = 5  # session, user, count, page
DETAIL_API_MAX_QUERIES = 4  # application (+ membership for an applicant), documents
# session, user, application, membership, versions, documents, events, screening, decision, voucher
DETAIL_PAGE_MAX_QUERIES = 11
# session, user, application, conflict declaration, versions, screening, documents, events,
# assignments, reviews, decision, voucher, rubric, reviewers who can be assigned
OFFICER_PAGE_MAX_QUERIES = 15

_numbers = count(700_000)  # registration numbers that factories' sequences never reach


def _bulk_submitted(n: int, *, program: Any, provider: Any, created_by: Any) -> list[Application]:
    """n submitted applications to `program`, each from its own organization (the database allows
    one open application per organization and program), with the version a submission writes."""
    now = timezone.now()
    organizations = Organization.objects.bulk_create(
        Organization(
            legal_name=f"Bulk Startup {number} Co., Ltd.",
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
            reference=f"{program.code}-B{organization.pk:06d}",
            status=Application.Status.SUBMITTED,
            version=1,
            currency=program.currency,
            title=f"Project of {organization.legal_name}",
            intended_provider=provider,
            requested_amount_cents=150_000_00,
            submitted_at=now,
            created_by=created_by,
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
    return applications


def _own_applications(n: int, *, organization: Any, programs: list[Any], user: Any) -> None:
    """n decided or withdrawn applications of one organization, spread over `programs` (closed
    applications are not limited to one per organization and program)."""
    closed = [
        Application.Status.APPROVED,
        Application.Status.REJECTED,
        Application.Status.WITHDRAWN,
    ]
    start = Application.objects.count()
    Application.objects.bulk_create(
        Application(
            organization=organization,
            program=programs[i % len(programs)],
            reference=f"OWN-{start + i:06d}",
            status=closed[i % len(closed)],
            version=1,
            currency="CNY",
            title=f"Earlier project {i}",
            requested_amount_cents=150_000_00,
            submitted_at=timezone.now(),
            created_by=user,
        )
        for i in range(n)
    )


def _queries(client: Any, url: str) -> int:
    """Queries of one GET, after a first GET has warmed per-process caches."""
    client.get(url)
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(context)


def _rows(response: Any) -> int:
    return len(response.json()["results"])


@pytest.mark.parametrize(
    "filters", ["", "&status=submitted", "&search=Bulk", "&ordering=-requested_amount"]
)
def test_application_list_api_queries_do_not_grow_with_page_size(
    filters, reviewer, program, provider, applicant, django_assert_max_num_queries
):
    _bulk_submitted(120, program=program, provider=provider, created_by=applicant)
    client = api_as(reviewer)
    url = reverse("api:applications")
    small = _queries(client, f"{url}?page_size=5{filters}")
    with django_assert_max_num_queries(LIST_API_MAX_QUERIES) as captured:
        response = client.get(f"{url}?page_size=100{filters}")
    large = len(captured)  # read now: the next request clears the connection's query log
    assert (_rows(client.get(f"{url}?page_size=5{filters}")), _rows(response)) == (5, 100)
    assert large == small


def test_application_list_api_for_applicant_queries_do_not_grow_with_page_size(
    applicant, organization, provider, django_assert_max_num_queries
):
    programs = ProgramFactory.create_batch(4, providers=[provider])
    _own_applications(60, organization=organization, programs=programs, user=applicant)
    client = api_as(applicant)
    url = reverse("api:applications")
    small = _queries(client, f"{url}?page_size=5")
    with django_assert_max_num_queries(LIST_API_MAX_QUERIES) as captured:
        response = client.get(f"{url}?page_size=60")
    assert _rows(response) == 60
    assert len(captured) == small


def test_applicant_dashboard_queries_do_not_grow_with_applications(
    client, applicant, organization, provider, django_assert_max_num_queries
):
    programs = ProgramFactory.create_batch(4, providers=[provider])
    client.force_login(applicant)
    url = reverse("applicants:dashboard")
    _own_applications(3, organization=organization, programs=programs, user=applicant)
    few = _queries(client, url)
    _own_applications(37, organization=organization, programs=programs, user=applicant)
    with django_assert_max_num_queries(DASHBOARD_MAX_QUERIES) as many:
        response = client.get(url)
    assert response.content.decode().count("Earlier project") == 40
    assert len(many) == few


@pytest.mark.parametrize("query", ["", "?status=submitted", "?q=Bulk", "?page=2"])
def test_officer_application_list_queries_do_not_grow_with_rows(
    query, client, reviewer, program, provider, applicant, django_assert_max_num_queries
):
    client.force_login(reviewer)
    url = reverse("officer:applications")
    _bulk_submitted(30, program=program, provider=provider, created_by=applicant)
    few = _queries(client, f"{url}{query}")  # 25 on page 1, 5 on page 2
    _bulk_submitted(90, program=program, provider=provider, created_by=applicant)
    with django_assert_max_num_queries(OFFICER_LIST_MAX_QUERIES) as many:
        response = client.get(f"{url}{query}")  # 25 on either page
    assert response.content.decode().count(f"{program.code}-B") == 25
    assert len(many) == few


def _resubmit(application: Any, *, applicant: Any, reviewer: Any, times: int) -> None:
    """Return and resubmit with one more document each time: more versions, documents, events."""
    for i in range(times):
        applicant_services.application_return(
            actor=reviewer, application_id=application.pk, message="Add the provider's quote."
        )
        applicant_services.document_add(
            actor=applicant,
            application_id=application.pk,
            kind="compute_quote",
            upload=pdf_upload(f"quote-{i}.pdf"),
        )
        applicant_services.application_update(
            actor=applicant,
            application_id=application.pk,
            values={"summary": f"{COMPLETE_ANSWERS['summary']} Revision {i + 1}."},
        )
        applicant_services.application_submit(actor=applicant, application_id=application.pk)


@pytest.mark.parametrize(
    ("page", "who", "bound"),
    [
        ("api:application", "reviewer", DETAIL_API_MAX_QUERIES),
        ("api:application", "applicant", DETAIL_API_MAX_QUERIES),
        ("officer:application_detail", "reviewer", OFFICER_PAGE_MAX_QUERIES),
        ("applicants:application_detail", "applicant", DETAIL_PAGE_MAX_QUERIES),
    ],
)
def test_application_detail_queries_do_not_grow_with_versions_documents_and_events(
    page, who, bound, client, submitted, applicant, reviewer, django_assert_max_num_queries
):
    user = {"applicant": applicant, "reviewer": reviewer}[who]
    declare_no_conflict(reviewer, submitted)
    if page.startswith("api:"):
        client = api_as(user)
    else:
        client.force_login(user)
    url = reverse(page, args=[submitted.pk])
    one_version = _queries(client, url)
    _resubmit(submitted, applicant=applicant, reviewer=reviewer, times=3)
    submitted.refresh_from_db()
    assert (submitted.version, submitted.documents.count()) == (4, 4)
    with django_assert_max_num_queries(bound) as four_versions:
        response = client.get(url)
    assert response.status_code == 200
    assert len(four_versions) == one_version
