"""An auditor asks for a program summary in a real Chromium; a real Celery worker (through Redis)
renders it while the report page's progress bar moves; the auditor downloads the PDF, which
holds the program's ledger totals and the SHA-256 the page shows.

Screenshots of every step: test-artifacts/browser/reports-journey/NN-step.png
Run: .venv/bin/python -m pytest tests/browser/test_reports_journey.py -q
"""

import hashlib
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from accounts.models import User
from core.money import format_money
from reports.models import Report
from tests.browser.conftest import login, watch_report_progress
from tests.disbursement.conftest import active_voucher, provider_staff  # noqa: F401
from tests.factories import UserFactory
from tests.reports.conftest import history, ledger_sums, second_staff  # noqa: F401
from tests.vouchers.conftest import approved, ready  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


def test_an_auditor_requests_a_program_summary_and_downloads_it(
    history,  # noqa: F811  (before the worker: the history's letter renders eagerly)
    real_celery_worker,
    slow_worker,
    page,
    live_server,
    shots,
    tmp_path: Path,
):
    program = history.program
    auditor: User = UserFactory.create(
        email="audit@example.gov.cn", full_name="Zhang Min", role=User.Role.AUDITOR
    )
    login(page, live_server.url, email=auditor.email, shots=shots)

    with page.expect_navigation():
        page.locator(".main-nav").get_by_role("link", name="Reports", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    page.get_by_test_id("request-program_summary").locator("summary").click()
    page.select_option("#id_program_summary-program", str(program.pk))
    shots.take("request form")

    polls: list[str] = []
    page.on("request", lambda r: "/status/" in r.url and polls.append(r.url))
    with page.expect_navigation():
        page.get_by_test_id("submit-program_summary").click()
    report = Report.objects.get()
    assert page.url.endswith(f"/reports/{report.pk}/")
    expect(page.get_by_test_id("progress")).to_be_visible()
    shots.take("queued")
    # The bar moves as the worker reports progress (the page polls the status JSON), and when
    # the report is done the page reloads with the downloads.
    seen = watch_report_progress(page, shots)
    shots.take("done")
    assert any(0 < value < 100 for value in seen), seen
    assert seen == sorted(seen), seen
    assert len(polls) >= 2 and slow_worker == [1, 2, 3, 4]

    report.refresh_from_db()
    shown = page.get_by_test_id("pdf-sha256").inner_text().strip()
    assert shown == report.pdf_sha256
    with page.expect_download() as info:
        page.get_by_test_id("download-pdf").click()
    download = info.value
    assert download.suggested_filename == f"program-summary-{program.code}.pdf"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and hashlib.sha256(data).hexdigest() == shown
    text = " ".join(
        " ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(data)).pages
    )
    sums = ledger_sums(program=program)
    assert sums["spent"] == 29_572_83
    for cents in (sums["committed"], sums["spent"], program.budget_cents - sums["committed"]):
        assert format_money(cents, program.currency) in text
    assert f"Program summary: {program.code}" in text
