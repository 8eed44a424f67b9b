"""History for reports, built through the real services: a program with two providers, an
active voucher of 150,000.00 with four accepted claims (one reversed) and a clawback."""

import csv
import hashlib
import io
from typing import Any

import pytest
from django.db.models import Sum
from pypdf import PdfReader

from accounts.models import User
from disbursement.models import Claim, LedgerEntry, ProviderStaff
from disbursement.services.claims import claim_submit
from disbursement.services.vouchers import claim_reverse, voucher_clawback
from reports.models import Report
from reports.services import report_request
from tests.disbursement.conftest import active_voucher, claim_input, provider_staff  # noqa: F401
from tests.factories import ProviderFactory, UserFactory
from tests.vouchers.conftest import approved, ready  # noqa: F401


@pytest.fixture(autouse=True)
def _register_in_process(settings: Any) -> None:
    settings.REPORT_REGISTER_WORKERS = 0  # no process pool in unit tests: same pages, faster


def claim(staff: User, voucher: Any, **kw: Any) -> Claim:
    provider = staff.provider_staff.provider
    result = claim_submit(actor=staff, provider=provider, data=claim_input(voucher, **kw)).claim
    assert result.status == Claim.Status.ACCEPTED, result.rejection_message
    return result


@pytest.fixture
def second_staff(program: Any) -> User:
    """Staff of a second provider approved for the program."""
    other = ProviderFactory(short_name="North Compute")
    program.approved_providers.add(other)
    user = UserFactory(role=User.Role.PROVIDER)
    ProviderStaff.objects.create(provider=other, user=user)
    return user


@pytest.fixture
def history(provider_staff: User, second_staff: User, active_voucher: Any, approver: User) -> Any:  # noqa: F811
    """Subsidies: 11,000.00 + 11,000.00 (+ 11,000.00 reversed) from the first provider,
    6,172.83 + 2,400.00 = 8,572.83 from the second; 1,000.00 clawed back.
    Spent: 22,000.00 + 8,572.83 - 1,000.00 = 29,572.83."""
    first = [claim(provider_staff, active_voucher, invoice=f"INV-A{i}") for i in range(3)]
    claim(second_staff, active_voucher, lines=[("domestic", 12_345_67), ("foreign", 8_000_01)])
    claim_reverse(actor=approver, claim_id=first[2].pk, reason="Credit note from the provider.")
    voucher_clawback(
        actor=approver,
        voucher_id=active_voucher.pk,
        amount_cents=1_000_00,
        reason="Ineligible usage found in audit.",
    )
    active_voucher.refresh_from_db()
    return active_voucher


def ledger_sums(**filters: Any) -> dict[str, int]:
    agg = LedgerEntry.objects.filter(**filters).aggregate(
        spent=Sum("spent_delta_cents"),
        cap=Sum("cap_delta_cents"),
        committed=Sum("committed_delta_cents"),
    )
    return {key: int(value or 0) for key, value in agg.items()}


def request_done(actor: User, kind: str, params: dict[str, Any], capture: Any) -> Report:
    """Request a report and let the (eager) worker render it after commit."""
    with capture(execute=True):
        report = report_request(actor=actor, kind=kind, params=params)
    report.refresh_from_db()
    assert report.status == Report.Status.DONE, report.error
    return report


def read(field: Any) -> bytes:
    with field.open("rb") as handle:
        return handle.read()


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def attachments(data: bytes) -> dict[str, list[bytes]]:
    return dict(PdfReader(io.BytesIO(data)).attachments)


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def assert_pdfa(data: bytes) -> None:
    """PDF/A-3b markers: XMP pdfaid part 3 conformance B, an OutputIntent, the CSV associated
    with /AFRelationship /Data."""
    reader = PdfReader(io.BytesIO(data))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8", "replace")
    compact = "".join(xmp.split())
    assert ("<pdfaid:part>3</pdfaid:part>" in compact) or ('pdfaid:part="3"' in compact), xmp
    assert ("<pdfaid:conformance>B</pdfaid:conformance>" in compact) or (
        'pdfaid:conformance="B"' in compact
    ), xmp
    intents = root["/OutputIntents"]
    assert len(intents) >= 1
    assert intents[0].get_object()["/S"] == "/GTS_PDFA1"
    associated = root["/AF"]
    assert any(spec.get_object()["/AFRelationship"] == "/Data" for spec in associated)


def assert_hashes(report: Report) -> tuple[bytes, bytes]:
    pdf, data = read(report.pdf), read(report.csv)
    assert pdf.startswith(b"%PDF-")
    assert report.pdf_sha256 == hashlib.sha256(pdf).hexdigest()
    assert report.csv_sha256 == hashlib.sha256(data).hexdigest()
    assert (report.pdf_bytes, report.csv_bytes) == (len(pdf), len(data))
    return pdf, data
