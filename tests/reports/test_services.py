"""Requesting, rendering, retrying and sweeping reports: checks, audit, idempotency, failures."""

from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction, AuditEvent
from core.exceptions import ConflictError, DomainError, NotAllowedError
from disbursement.models import ReconciliationRun
from reports import services
from reports.documents import Rendered
from reports.models import Report
from reports.pdf import ReportRenderError
from reports.services import report_render, report_request, report_retry, report_sweep
from reports.tasks import report_render_task
from tests.factories import UserFactory
from tests.reports.conftest import assert_hashes, read, request_done

pytestmark = pytest.mark.django_db

K = Report.Kind
S = Report.Status


def _events(action: AuditAction, report: Report, event: str) -> list[AuditEvent]:
    """The report's events of one kind (data["event"] tells them apart while the report
    actions share a stand-in action; see reports.services._action)."""
    return list(
        AuditEvent.objects.filter(
            action=action,
            target_type="reports.report",
            target_id=str(report.pk),
            data__event=event,
        )
    )


# --- Parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "params", "code", "field"),
    [
        ("monthly", {}, "invalid_kind", "kind"),
        (K.PROGRAM_SUMMARY, {}, "program_required", "program"),
        (K.PROGRAM_SUMMARY, {"program": "twelve"}, "invalid", "program"),
        (K.PROGRAM_SUMMARY, {"program": 10**19}, "invalid", "program"),
        (K.PROGRAM_SUMMARY, {"program": True}, "invalid", "program"),
        (K.PROGRAM_SUMMARY, {"program": 987654}, "no_such_program", "program"),
        (K.PROGRAM_SUMMARY, {"program": 1, "voucher": 2}, "unknown_parameter", "voucher"),
        (K.VOUCHER_STATEMENT, {}, "voucher_required", "voucher"),
        (K.VOUCHER_STATEMENT, {"voucher": 987654}, "no_such_voucher", "voucher"),
        (K.RECONCILIATION, {"run": 987654}, "no_such_run", "run"),
        (K.AUDIT_EXTRACT, {"date_to": "2025-01-01"}, "date_required", "date_from"),
        (K.AUDIT_EXTRACT, {"date_from": "2025-13-01", "date_to": "2025-01-01"}, "invalid_date", "date_from"),
        (K.AUDIT_EXTRACT, {"date_from": "2025-02-01", "date_to": "2025-01-01"}, "date_order", "date_to"),
        (K.AUDIT_EXTRACT, {"date_from": "2999-01-01", "date_to": "2999-01-02"}, "date_in_future", "date_from"),
        (K.AUDIT_EXTRACT, {"date_from": "2025-01-01", "date_to": "2025-01-02", "stream": "x; DROP"}, "invalid_stream", "stream"),
        (K.AUDIT_EXTRACT, {"date_from": "2025-01-01", "date_to": "2025-01-02", "action": "hack"}, "invalid_action", "action"),
        (K.AUDIT_EXTRACT, {"date_from": "2025-01-01", "date_to": "2025-01-02", "language": "fr"}, "invalid_language", "language"),
    ],
)  # fmt: skip
def test_report_request_rejects_bad_parameters_with_a_code(
    auditor, program, kind, params, code, field
):
    with pytest.raises(DomainError) as caught:
        report_request(actor=auditor, kind=kind, params=params)
    assert caught.value.code == code and field in caught.value.fields
    assert caught.value.message
    assert not Report.objects.exists()


def test_report_request_refuses_a_run_still_running(auditor):
    run = ReconciliationRun.objects.create(kind=ReconciliationRun.Kind.LEDGER)
    with pytest.raises(DomainError) as caught:
        report_request(actor=auditor, kind=K.RECONCILIATION, params={"run": run.pk})
    assert caught.value.code == "run_not_finished"


def test_an_audit_extract_too_large_asks_for_a_narrower_one(auditor, submitted, settings):
    settings.REPORT_AUDIT_MAX_EVENTS = 2
    today = timezone.localdate().isoformat()
    with pytest.raises(DomainError) as caught:
        report_request(
            actor=auditor, kind=K.AUDIT_EXTRACT, params={"date_from": today, "date_to": today}
        )
    assert caught.value.code == "too_many_events" and "at most 2" in caught.value.message


# --- Who may ask for what -------------------------------------------------------------------

ROLES = ["applicant", "reviewer", "approver", "finance", "provider", "auditor", "admin"]
MAY_REQUEST = {
    K.PROGRAM_SUMMARY: {"approver", "finance", "auditor", "admin"},
    K.VOUCHER_REGISTER: {"approver", "finance", "auditor", "admin"},
    K.RECONCILIATION: {"approver", "finance", "auditor", "admin"},
    K.AUDIT_EXTRACT: {"auditor", "admin"},
    K.VOUCHER_STATEMENT: {"applicant", "approver", "finance", "auditor", "admin"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("kind", list(MAY_REQUEST))
def test_who_may_request_each_kind(role, kind, active_voucher, applicant):
    history = active_voucher
    run = ReconciliationRun.objects.create(
        kind=ReconciliationRun.Kind.LEDGER, status=ReconciliationRun.Status.CLEAN
    )
    today = timezone.localdate().isoformat()
    params: dict[str, Any] = {
        K.PROGRAM_SUMMARY: {"program": history.program_id},
        K.VOUCHER_REGISTER: {"program": history.program_id},
        K.RECONCILIATION: {"run": run.pk},
        K.AUDIT_EXTRACT: {"date_from": today, "date_to": today},
        K.VOUCHER_STATEMENT: {"voucher": history.pk},
    }[kind]
    user = applicant if role == "applicant" else UserFactory(role=role)  # the voucher's holder
    if role in MAY_REQUEST[kind]:
        report = report_request(actor=user, kind=kind, params=params)
        assert report.status == S.QUEUED and report.requested_by == user
        assert _events(services.REPORT_REQUESTED, report, "report.requested")
    else:
        with pytest.raises(NotAllowedError):
            report_request(actor=user, kind=kind, params=params)
        denied = AuditEvent.objects.get(action=AuditAction.PERMISSION_DENIED, actor=user)
        assert denied.data["attempted"] == f"report.request.{kind}"


def test_an_applicant_gets_no_statement_of_another_organizations_voucher(history, other_applicant):
    with pytest.raises(DomainError) as caught:
        report_request(
            actor=other_applicant, kind=K.VOUCHER_STATEMENT, params={"voucher": history.pk}
        )
    assert caught.value.code == "no_such_voucher"


# --- Queueing, idempotency, failures --------------------------------------------------------


def test_report_request_queues_the_task_after_commit(
    history, auditor, django_capture_on_commit_callbacks
):
    with mock.patch("reports.services.report_render_task.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            report = report_request(
                actor=auditor, kind=K.VOUCHER_STATEMENT, params={"voucher": history.pk}
            )
    delay.assert_called_once_with(report_id=report.pk)
    assert report.language == auditor.preferred_language
    assert report.parameters == {"voucher": history.pk}
    assert report.voucher == history and report.program == history.program


def test_the_same_request_twice_while_queued_makes_one_report(history, auditor):
    first = report_request(actor=auditor, kind=K.VOUCHER_STATEMENT, params={"voucher": history.pk})
    again = report_request(
        actor=auditor, kind=K.VOUCHER_STATEMENT, params={"voucher": str(history.pk)}
    )
    assert again.pk == first.pk and Report.objects.count() == 1


def test_rendering_twice_changes_nothing(history, auditor, django_capture_on_commit_callbacks):
    report = request_done(
        auditor, K.VOUCHER_STATEMENT, {"voucher": history.pk}, django_capture_on_commit_callbacks
    )
    before = (
        report.pdf.name,
        report.csv.name,
        report.pdf_sha256,
        report.finished_at,
        report.attempts,
    )
    report_render_task.apply(kwargs={"report_id": report.pk})
    report_render(report_id=report.pk, token="another")
    report.refresh_from_db()
    assert (
        report.pdf.name,
        report.csv.name,
        report.pdf_sha256,
        report.finished_at,
        report.attempts,
    ) == before
    assert len(_events(services.REPORT_RENDERED, report, "report.rendered")) == 1


def _queued(auditor: User, voucher: Any) -> Report:
    return report_request(actor=auditor, kind=K.VOUCHER_STATEMENT, params={"voucher": voucher.pk})


def test_a_crashed_render_is_taken_over_by_its_redelivered_task_at_once(history, auditor):
    report = _queued(auditor, history)
    Report.objects.filter(pk=report.pk).update(
        status=S.RUNNING, claim_token="task-1", claimed_at=timezone.now(), attempts=1
    )
    assert report_render(report_id=report.pk, token="task-2").status == S.RUNNING  # not its claim
    done = report_render(report_id=report.pk, token="task-1")  # the same task, redelivered
    assert done.status == S.DONE and done.attempts == 2
    assert_hashes(done)


def test_a_stale_claim_is_taken_over_by_anyone(history, auditor, settings):
    report = _queued(auditor, history)
    stale = timezone.now() - timedelta(seconds=settings.REPORT_STALE_SECONDS + 5)
    Report.objects.filter(pk=report.pk).update(
        status=S.RUNNING, claim_token="gone", claimed_at=stale
    )
    assert report_render(report_id=report.pk, token="sweep").status == S.DONE


def test_a_failure_is_recorded_readably_and_can_be_retried(
    history, auditor, django_capture_on_commit_callbacks
):
    report = _queued(auditor, history)
    with mock.patch("reports.services.render_report", side_effect=RuntimeError("disk on fire")):
        failed = report_render(report_id=report.pk, token="t1")
    assert failed.status == S.FAILED and failed.finished_at is not None
    assert "RuntimeError: disk on fire" in failed.error and "Try again" in failed.error
    assert not failed.pdf and not failed.pdf_sha256
    event = _events(services.REPORT_FAILED, failed, "report.failed")[0]
    assert event.data["event"] == "report.failed" and "disk on fire" in event.data["error"]
    # Left alone by a repeated task...
    assert report_render(report_id=report.pk, token="t2").status == S.FAILED
    # ...until someone retries it.
    with django_capture_on_commit_callbacks(execute=True):
        report_retry(actor=auditor, report_id=report.pk)
    report.refresh_from_db()
    assert report.status == S.DONE and report.error == ""
    assert_hashes(report)


def test_a_layout_error_says_so(history, auditor):
    report = _queued(auditor, history)
    error = ReportRenderError("WeasyPrint failed: ValueError: bad CSS")
    with mock.patch("reports.services.render_report", side_effect=error):
        failed = report_render(report_id=report.pk)
    assert failed.error.startswith("The PDF could not be laid out") and "bad CSS" in failed.error


def test_progress_is_written_while_rendering(history, auditor):
    report = _queued(auditor, history)
    seen: list[tuple[int, int, str]] = []

    def fake(meta: Any, *, progress: Any) -> Rendered:
        progress(1, 4)
        row = Report.objects.get(pk=report.pk)
        seen.append((row.progress_done, row.progress_total, row.status))
        progress(4, 4)
        return Rendered(pdf=b"%PDF-1.7 fake", csv=b"a,b\r\n", stem="fake", pages=1)

    with mock.patch("reports.services.render_report", side_effect=fake):
        done = report_render(report_id=report.pk)
    assert seen == [(1, 4, S.RUNNING)]
    assert done.status == S.DONE and done.percent == 100
    assert read(done.pdf) == b"%PDF-1.7 fake" and done.summary["stem"] == "fake"


def test_retry_refuses_a_done_or_fresh_report(history, auditor, django_capture_on_commit_callbacks):
    report = _queued(auditor, history)
    with pytest.raises(ConflictError) as caught:
        report_retry(actor=auditor, report_id=report.pk)  # queued a moment ago
    assert caught.value.code == "still_running"
    done = request_done(
        auditor,
        K.PROGRAM_SUMMARY,
        {"program": history.program_id},
        django_capture_on_commit_callbacks,
    )
    with pytest.raises(ConflictError) as caught:
        report_retry(actor=auditor, report_id=done.pk)
    assert caught.value.code == "done"


def test_the_sweep_queues_lost_and_crashed_reports_only(history, auditor, settings):
    lost, fresh, crashed = (
        _queued(auditor, history),
        report_request(
            actor=auditor, kind=K.PROGRAM_SUMMARY, params={"program": history.program_id}
        ),
        report_request(actor=auditor, kind=K.VOUCHER_REGISTER, params={}),
    )
    old = timezone.now() - timedelta(minutes=5)
    Report.objects.filter(pk=lost.pk).update(updated_at=old)
    Report.objects.filter(pk=crashed.pk).update(
        status=S.RUNNING,
        claimed_at=timezone.now() - timedelta(seconds=settings.REPORT_STALE_SECONDS + 1),
    )
    with mock.patch("reports.services.report_render_task.delay") as delay:
        assert report_sweep() == 2
    assert sorted(c.kwargs["report_id"] for c in delay.call_args_list) == sorted(
        [lost.pk, crashed.pk]
    )
    assert fresh.pk not in [c.kwargs["report_id"] for c in delay.call_args_list]


def test_render_report_command(history, auditor, tmp_path, capsys):
    call_command(
        "render_report", "voucher_statement", "--as", auditor.email, "--voucher", str(history.pk),
        "--output", str(tmp_path),
    )  # fmt: skip
    report = Report.objects.get()
    assert report.status == S.DONE
    out = capsys.readouterr().out
    assert report.pdf_sha256 in out and report.csv_sha256 in out
    stem = report.summary["stem"]
    assert Path(tmp_path, f"{stem}.pdf").read_bytes() == read(report.pdf)
    assert Path(tmp_path, f"{stem}.csv").read_bytes() == read(report.csv)


def test_a_render_whose_claim_was_taken_over_discards_its_files(history, auditor):
    report = _queued(auditor, history)

    def overtaken(meta: Any, *, progress: Any) -> Rendered:
        # Meanwhile the claim went stale and another worker took the report over.
        Report.objects.filter(pk=report.pk).update(claim_token="other-task")
        return Rendered(pdf=b"%PDF-1.7 late", csv=b"a\r\n", stem="late", pages=1)

    with mock.patch("reports.services.render_report", side_effect=overtaken):
        current = report_render(report_id=report.pk, token="slow-task")
    assert current.status == S.RUNNING and current.claim_token == "other-task"
    assert not current.pdf
    event = _events(services.REPORT_FAILED, report, "report.render_discarded")[0]
    storage = Report._meta.get_field("pdf").storage
    assert event.data["deleted_files"] and not any(
        storage.exists(name) for name in event.data["deleted_files"]
    )
