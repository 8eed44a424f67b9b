"""The reports API: request (202), status, downloads (audited), errors with codes, and who may
see what (403 when the role may not ask, 404 for reports one cannot see)."""

import hashlib
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction, AuditEvent
from core.money import cents_to_str
from reports import services
from reports.models import Report
from reports.services import report_request
from tests.conftest import api_as
from tests.factories import UserFactory
from tests.reports.conftest import ledger_sums

pytestmark = pytest.mark.django_db

K = Report.Kind


def _post(user: User, body: dict[str, Any], capture: Any) -> Any:
    with capture(execute=True):
        return api_as(user).post("/api/v1/reports/", body, format="json")


def _content(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_request_poll_and_download_a_report(history, auditor, django_capture_on_commit_callbacks):
    response = _post(
        auditor,
        {"kind": "program_summary", "program": history.program_id},
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["kind"] == "program_summary" and body["parameters"] == {
        "program": history.program_id
    }
    detail = api_as(auditor).get(body["links"]["self"]).json()
    assert detail["status"] == "done" and detail["progress"]["percent"] == 100
    sums = ledger_sums(program=history.program)
    assert detail["totals"]["spent"] == cents_to_str(sums["spent"]) == "29572.83"
    assert detail["totals"]["committed"] == cents_to_str(sums["committed"])
    assert detail["pages"] >= 1
    for fmt, content_type in (("pdf", "application/pdf"), ("csv", "text/csv; charset=utf-8")):
        download = api_as(auditor).get(detail["links"][fmt])
        assert download.status_code == 200 and download["Content-Type"] == content_type
        stem = f"program-summary-{history.program.code}"
        assert download["Content-Disposition"] == f'attachment; filename="{stem}.{fmt}"'
        data = _content(download)
        assert (
            hashlib.sha256(data).hexdigest()
            == detail[f"{fmt}_sha256"]
            == download["X-Checksum-SHA256"]
        )
    downloads = AuditEvent.objects.filter(
        action=services.REPORT_DOWNLOADED, actor=auditor, data__event="report.downloaded"
    )
    assert sorted(e.data["format"] for e in downloads) == ["csv", "pdf"]
    assert {e.data["sha256"] for e in downloads} == {detail["pdf_sha256"], detail["csv_sha256"]}


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"kind": "program_summary"}, "program_required", "program"),
        ({"kind": "program_summary", "program": 987654}, "no_such_program", "program"),
        ({"kind": "program_summary", "program": "x"}, "invalid", "program"),
        ({"kind": "weekly"}, "invalid_choice", "kind"),
        ({"kind": "program_summary", "colour": "red"}, "unknown_field", "colour"),
        ({"kind": "voucher_statement", "program": 1}, "unknown_parameter", "program"),
        ({"kind": "audit_extract", "date_from": "yesterday", "date_to": "2025-01-01"}, "invalid", "date_from"),
        ({"kind": "audit_extract", "date_from": "2025-02-01", "date_to": "2025-01-01"}, "date_order", "date_to"),
        ({"kind": "audit_extract", "date_from": "2025-01-01", "date_to": "2025-01-02", "stream": "a b"}, "invalid_stream", "stream"),
        ({"kind": "reconciliation", "run": 987654}, "no_such_run", "run"),
    ],
)  # fmt: skip
def test_bad_parameters_get_400_with_a_code(auditor, program, body, code, field):
    response = api_as(auditor).post("/api/v1/reports/", body, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == code and field in error["fields"] and error["message"]
    assert not Report.objects.exists()


def test_a_role_that_may_not_ask_gets_403_and_is_recorded(finance, program):
    today = timezone.localdate().isoformat()
    response = api_as(finance).post(
        "/api/v1/reports/",
        {"kind": "audit_extract", "date_from": today, "date_to": today},
        format="json",
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED, actor=finance).exists()


def test_an_applicant_asks_for_the_statement_of_their_own_voucher_only(
    history, applicant, other_applicant, django_capture_on_commit_callbacks
):
    own = _post(
        applicant,
        {"kind": "voucher_statement", "voucher": history.pk},
        django_capture_on_commit_callbacks,
    )
    assert own.status_code == 202 and own.json()["requested_by"] == applicant.email
    other = api_as(other_applicant).post(
        "/api/v1/reports/", {"kind": "voucher_statement", "voucher": history.pk}, format="json"
    )
    assert other.status_code == 400 and other.json()["error"]["code"] == "no_such_voucher"
    assert (
        api_as(applicant)
        .post(
            "/api/v1/reports/",
            {"kind": "program_summary", "program": history.program_id},
            format="json",
        )
        .status_code
        == 403
    )


def test_who_sees_and_downloads_a_report(
    history, applicant, other_applicant, django_capture_on_commit_callbacks
):
    finance = UserFactory(role=User.Role.FINANCE)
    with django_capture_on_commit_callbacks(execute=True):
        report = report_request(
            actor=finance, kind=K.VOUCHER_REGISTER, params={"program": history.program_id}
        )
    url = f"/api/v1/reports/{report.pk}/"
    allowed = [finance, UserFactory(role=User.Role.AUDITOR), UserFactory(role=User.Role.ADMIN)]
    refused = [
        UserFactory(role=User.Role.FINANCE),  # another finance officer: not theirs
        UserFactory(role=User.Role.APPROVER),
        UserFactory(role=User.Role.REVIEWER),
        UserFactory(role=User.Role.PROVIDER),
        applicant,
    ]
    for user in allowed:
        assert api_as(user).get(url).status_code == 200, user.role
        assert api_as(user).get(url + "pdf/").status_code == 200, user.role
    for user in refused:
        for path in ("", "pdf/", "csv/"):
            response = api_as(user).get(url + path)
            assert response.status_code == 404, (user.role, path)
            assert response.json()["error"]["code"] == "not_found"
        assert AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED, actor=user).exists()
    listed = api_as(UserFactory(role=User.Role.FINANCE)).get("/api/v1/reports/").json()
    assert listed["count"] == 0
    assert api_as(finance).get("/api/v1/reports/").json()["count"] == 1
    assert api_as(UserFactory(role=User.Role.AUDITOR)).get("/api/v1/reports/").json()["count"] == 1
    assert api_as(UserFactory(role=User.Role.REVIEWER)).get("/api/v1/reports/").json()["count"] == 0


def test_an_applicant_who_left_the_organization_no_longer_sees_its_statement(
    history, applicant, django_capture_on_commit_callbacks
):
    from applicants.models import Membership

    with django_capture_on_commit_callbacks(execute=True):
        report = report_request(
            actor=applicant, kind=K.VOUCHER_STATEMENT, params={"voucher": history.pk}
        )
    assert api_as(applicant).get(f"/api/v1/reports/{report.pk}/").status_code == 200
    Membership.objects.filter(user=applicant).delete()
    assert api_as(applicant).get(f"/api/v1/reports/{report.pk}/").status_code == 404


def test_downloading_a_report_that_is_not_ready_is_409(history, auditor):
    report = report_request(actor=auditor, kind=K.VOUCHER_STATEMENT, params={"voucher": history.pk})
    response = api_as(auditor).get(f"/api/v1/reports/{report.pk}/pdf/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_ready"
    assert api_as(auditor).get(f"/api/v1/reports/{report.pk}/").json()["links"] == {
        "self": f"/api/v1/reports/{report.pk}/"
    }


def test_retry_through_the_api(history, auditor, django_capture_on_commit_callbacks):
    from unittest import mock

    report = report_request(actor=auditor, kind=K.VOUCHER_STATEMENT, params={"voucher": history.pk})
    with mock.patch("reports.services.render_report", side_effect=OSError("no space left")):
        services.report_render(report_id=report.pk)
    failed = api_as(auditor).get(f"/api/v1/reports/{report.pk}/").json()
    assert failed["status"] == "failed" and "no space left" in failed["error"]
    other_auditor = UserFactory(role=User.Role.AUDITOR)  # sees it, may not retry someone's report
    refused = api_as(other_auditor).post(f"/api/v1/reports/{report.pk}/retry/")
    assert refused.status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(auditor).post(f"/api/v1/reports/{report.pk}/retry/")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert api_as(auditor).get(f"/api/v1/reports/{report.pk}/").json()["status"] == "done"


def test_unknown_and_huge_ids_are_404(auditor):
    for path in ("/api/v1/reports/999999/", f"/api/v1/reports/{2**63}/", "/api/v1/reports/1/csv/"):
        assert api_as(auditor).get(path).status_code == 404
