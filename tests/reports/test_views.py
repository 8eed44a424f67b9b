"""The report pages: the list with one request form per kind the user may ask for, the report
page (progress bar, status JSON, downloads with their SHA-256), and who may see them."""

import hashlib

import pytest
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from reports import services
from reports.models import Report
from reports.services import report_request
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

K = Report.Kind


@pytest.mark.parametrize(
    ("role", "kinds"),
    [
        ("auditor", list(K.values)),
        ("admin", list(K.values)),
        ("finance", [k for k in K.values if k != K.AUDIT_EXTRACT]),
        ("approver", [k for k in K.values if k != K.AUDIT_EXTRACT]),
    ],
)
def test_the_list_offers_the_kinds_the_role_may_request(client, program, role, kinds):
    client.force_login(UserFactory(role=role))
    response = client.get(reverse("reports:list"))
    assert response.status_code == 200
    page = response.content.decode()
    for kind in K.values:
        assert (f'data-testid="request-{kind}"' in page) == (kind in kinds), kind
    assert 'href="/reports/"' in page  # the nav link


def test_an_applicant_picks_one_of_their_own_vouchers(
    client, applicant, active_voucher, other_applicant
):
    client.force_login(applicant)
    page = client.get(reverse("reports:list")).content.decode()
    assert 'data-testid="request-voucher_statement"' in page and active_voucher.code in page
    assert 'data-testid="request-program_summary"' not in page
    client.force_login(other_applicant)
    assert active_voucher.code not in client.get(reverse("reports:list")).content.decode()


@pytest.mark.parametrize("role", ["reviewer", "provider"])
def test_roles_without_reports_are_refused(client, role):
    client.force_login(UserFactory(role=role))
    assert client.get(reverse("reports:list")).status_code == 403


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(reverse("reports:list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_request_from_the_page_then_download(
    client, history, auditor, django_capture_on_commit_callbacks
):
    client.force_login(auditor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("reports:request", args=["voucher_statement"]),
            {"voucher_statement-voucher": history.code.lower(), "voucher_statement-language": "en"},
        )
    report = Report.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "reports:detail", args=[report.pk]
    )
    page = client.get(response["Location"]).content.decode()
    assert report.pdf_sha256 in page and report.csv_sha256 in page
    assert 'data-testid="download-pdf"' in page and 'role="progressbar"' not in page
    download = client.get(reverse("reports:download", args=[report.pk, "pdf"]))
    data = b"".join(download.streaming_content)
    assert (
        download["Content-Disposition"]
        == f'attachment; filename="voucher-statement-{history.code}.pdf"'
    )
    assert hashlib.sha256(data).hexdigest() == report.pdf_sha256
    assert AuditEvent.objects.filter(
        action=services.REPORT_DOWNLOADED, actor=auditor, data__format="pdf"
    ).exists()


def test_a_queued_report_shows_a_progress_bar_that_polls_its_status(client, history, auditor):
    report = report_request(
        actor=auditor, kind=K.PROGRAM_SUMMARY, params={"program": history.program_id}
    )
    client.force_login(auditor)
    page = client.get(reverse("reports:detail", args=[report.pk])).content.decode()
    status_url = reverse("reports:status", args=[report.pk])
    assert 'role="progressbar"' in page and f'data-status-url="{status_url}"' in page
    assert "js/reports.js" in page
    Report.objects.filter(pk=report.pk).update(status="running", progress_done=3, progress_total=4)
    state = client.get(status_url).json()
    assert state == {
        "id": report.pk,
        "status": "running",
        "status_display": "Rendering",
        "done": 3,
        "total": 4,
        "percent": 75,
        "finished": False,
        "error": "",
        "pdf_sha256": "",
        "csv_sha256": "",
    }
    assert client.get(reverse("reports:download", args=[report.pk, "pdf"])).status_code == 409


def test_bad_form_input_is_shown_on_the_form(client, program, auditor):
    client.force_login(auditor)
    response = client.post(
        reverse("reports:request", args=["voucher_statement"]),
        {"voucher_statement-voucher": "CV-0000-0000-0000-0", "voucher_statement-language": "en"},
    )
    assert response.status_code == 400
    assert 'class="error-summary"' in response.content.decode()
    response = client.post(
        reverse("reports:request", args=["audit_extract"]),
        {
            "audit_extract-date_from": "2025-02-01",
            "audit_extract-date_to": "2025-01-01",
            "audit_extract-language": "en",
        },
    )
    assert (
        response.status_code == 400
        and "The end date is before the start date." in response.content.decode()
    )
    assert not Report.objects.exists()


def test_a_role_posting_a_kind_it_may_not_ask_for_gets_403(client, finance):
    client.force_login(finance)
    response = client.post(
        reverse("reports:request", args=["audit_extract"]),
        {
            "audit_extract-date_from": "2025-01-01",
            "audit_extract-date_to": "2025-01-02",
            "audit_extract-language": "en",
        },
    )
    assert response.status_code == 403


def test_others_get_404_on_every_report_page(
    client, history, applicant, other_applicant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = report_request(
            actor=applicant, kind=K.VOUCHER_STATEMENT, params={"voucher": history.pk}
        )
    urls = [
        reverse("reports:detail", args=[report.pk]),
        reverse("reports:status", args=[report.pk]),
        reverse("reports:download", args=[report.pk, "pdf"]),
        reverse("reports:download", args=[report.pk, "csv"]),
    ]
    client.force_login(applicant)
    assert [client.get(url).status_code for url in urls] == [200, 200, 200, 200]
    for user in (
        other_applicant,
        UserFactory(role=User.Role.FINANCE),
        UserFactory(role=User.Role.APPROVER),
    ):
        client.force_login(user)
        assert [client.get(url).status_code for url in urls] == [404, 404, 404, 404], user.role
    client.force_login(UserFactory(role=User.Role.AUDITOR))
    assert [client.get(url).status_code for url in urls] == [200, 200, 200, 200]


def test_a_failed_report_shows_its_error_and_can_be_retried(
    client, history, auditor, django_capture_on_commit_callbacks
):
    from unittest import mock

    report = report_request(actor=auditor, kind=K.VOUCHER_STATEMENT, params={"voucher": history.pk})
    with mock.patch("reports.services.render_report", side_effect=ValueError("no fonts")):
        services.report_render(report_id=report.pk)
    client.force_login(auditor)
    page = client.get(reverse("reports:detail", args=[report.pk])).content.decode()
    assert (
        'data-testid="report-error"' in page
        and "no fonts" in page
        and 'data-testid="retry"' in page
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reports:retry", args=[report.pk]))
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == "done"


def test_the_report_pages_render_in_chinese(
    client, history, auditor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = report_request(
            actor=auditor, kind=K.PROGRAM_SUMMARY, params={"program": history.program_id}
        )
    client.cookies["django_language"] = "zh-hans"
    client.force_login(auditor)
    assert client.get(reverse("reports:list")).status_code == 200
    assert client.get(reverse("reports:detail", args=[report.pk])).status_code == 200


def test_the_list_costs_the_same_queries_whatever_the_number_of_reports(client, history, auditor):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.conftest import api_as

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as page:
            assert client.get(reverse("reports:list")).status_code == 200
        with CaptureQueriesContext(connection) as api:
            assert api_as(auditor).get("/api/v1/reports/").status_code == 200
        return len(page), len(api)

    client.force_login(auditor)
    report_request(actor=auditor, kind=K.VOUCHER_STATEMENT, params={"voucher": history.pk})
    few = queries()
    for n in range(10):
        user = UserFactory(role=User.Role.FINANCE)
        kind = K.VOUCHER_REGISTER if n % 2 else K.PROGRAM_SUMMARY
        report_request(actor=user, kind=kind, params={"program": history.program_id})
    assert queries() == few
