"""A report through the real broker and a real Celery worker: rendered once, and queuing it
again changes nothing."""

import hashlib
import time

import pytest

from audit.models import AuditEvent
from reports import services
from reports.models import Report
from reports.services import report_request
from reports.tasks import report_render_task
from tests.conftest import wait_until
from tests.reports.conftest import read


@pytest.mark.redis
def test_a_register_through_a_real_worker_renders_once(
    history, auditor, settings, real_celery_worker
):
    settings.REPORT_REGISTER_WORKERS = 2  # the register's own process pool, inside the worker
    report = report_request(
        actor=auditor, kind=Report.Kind.VOUCHER_REGISTER, params={"program": history.program_id}
    )  # transactional_db: committed at once, the task goes through Redis
    assert wait_until(lambda: Report.objects.get(pk=report.pk).is_finished, timeout=120)
    first = Report.objects.get(pk=report.pk)
    assert first.status == Report.Status.DONE, first.error
    assert first.pdf_sha256 == hashlib.sha256(read(first.pdf)).hexdigest()
    assert first.summary["totals"]["spent_cents"] == history.spent_cents
    report_render_task.delay(report_id=report.pk)
    report_render_task.delay(report_id=report.pk)
    time.sleep(2)  # the worker consumes both messages; neither may change the stored report
    again = Report.objects.get(pk=report.pk)
    assert (again.pdf.name, again.pdf_sha256, again.finished_at, again.attempts) == (
        first.pdf.name,
        first.pdf_sha256,
        first.finished_at,
        first.attempts,
    )
    rendered = AuditEvent.objects.filter(
        action=services.REPORT_RENDERED, target_id=str(report.pk), data__event="report.rendered"
    )
    assert rendered.count() == 1
