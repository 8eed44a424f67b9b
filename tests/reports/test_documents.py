"""Every kind of report, read back: the PDF's text (totals equal the ledger sums computed here),
the CSV embedded in the PDF (equal to the CSV download, and to the database), the PDF/A-3b
markers, and the stored SHA-256 of each file."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from applicants.models import Application
from audit.models import AuditEvent
from core.money import format_money
from disbursement.models import Discrepancy, LedgerEntry, ReconciliationRun
from disbursement.services.reconciliation import reconcile_ledger
from reports.datasets import nearest_rank
from reports.models import Report
from tests.reports.conftest import (
    assert_hashes,
    assert_pdfa,
    attachments,
    csv_rows,
    ledger_sums,
    pdf_text,
    request_done,
)
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db

K = Report.Kind


def _embedded(pdf: bytes, csv_data: bytes, name: str) -> None:
    """The PDF carries exactly one file, the CSV download, byte for byte."""
    assert attachments(pdf) == {name: [csv_data]}


def test_program_summary_totals_equal_the_ledger(
    history, auditor, django_capture_on_commit_callbacks
):
    program = history.program
    report = request_done(
        auditor, K.PROGRAM_SUMMARY, {"program": program.pk}, django_capture_on_commit_callbacks
    )
    pdf, data = assert_hashes(report)
    assert_pdfa(pdf)
    _embedded(pdf, data, f"program-summary-{program.code}.csv")
    sums = ledger_sums(program=program)
    assert sums["spent"] == 29_572_83  # by hand: see the history fixture
    text = pdf_text(pdf)
    for cents in (
        program.budget_cents,
        sums["committed"],
        sums["spent"],
        program.budget_cents - sums["committed"],
        sums["committed"] - sums["spent"],
    ):
        assert format_money(cents, "CNY") in text
    assert "North Compute" in text and "Spending by chip origin" in text
    # The charts (SVG, drawn as text and shapes) repeat the amounts beside their bars.
    assert text.count(format_money(22_000_00, "CNY")) >= 2

    rows = csv_rows(data)
    by = {(r["section"], r["key"]): r for r in rows}
    assert int(by["totals", "spent"]["amount_cents"]) == sums["spent"]
    assert int(by["totals", "committed"]["amount_cents"]) == sums["committed"]
    assert int(by["totals", "budget"]["amount_cents"]) == program.budget_cents
    providers = [r for r in rows if r["section"] == "by_provider"]
    chips = [r for r in rows if r["section"] == "by_chip_origin"]
    assert sum(int(r["amount_cents"]) for r in providers) == sums["spent"]
    assert sum(int(r["amount_cents"]) for r in chips) == sums["spent"]
    assert int(by["by_provider", "clawback"]["amount_cents"]) == -1_000_00
    # Domestic: 3 x 5,000.00 (one reversed) + 6,172.83; foreign: 3 x 6,000.00 (one reversed) + 2,400.00
    assert int(by["by_chip_origin", "domestic"]["amount_cents"]) == 2 * 5_000_00 + 6_172_83
    assert int(by["by_chip_origin", "foreign"]["amount_cents"]) == 2 * 6_000_00 + 2_400_00
    approved = Application.objects.filter(program=program, status="approved").count()
    assert int(by["applications", "approved"]["count"]) == approved == 1
    assert report.summary["totals"]["spent_cents"] == sums["spent"]
    assert report.summary["pages"] >= 1


def test_program_summary_says_when_the_counters_disagree_with_the_ledger(
    history, auditor, django_capture_on_commit_callbacks
):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE vouchers_program SET committed_cents = committed_cents + 1 WHERE id = %s",
            [history.program_id],
        )
    report = request_done(
        auditor,
        K.PROGRAM_SUMMARY,
        {"program": history.program_id},
        django_capture_on_commit_callbacks,
    )
    text = pdf_text(assert_hashes(report)[0])
    assert "run a reconciliation" in text
    # The printed total stays the ledger's, not the tampered counter's.
    assert format_money(ledger_sums(program=history.program)["committed"], "CNY") in text


def test_voucher_statement_has_the_running_balance(
    history, auditor, django_capture_on_commit_callbacks
):
    report = request_done(
        auditor, K.VOUCHER_STATEMENT, {"voucher": history.pk}, django_capture_on_commit_callbacks
    )
    pdf, data = assert_hashes(report)
    assert_pdfa(pdf)
    _embedded(pdf, data, f"voucher-statement-{history.code}.csv")
    entries = list(LedgerEntry.objects.filter(voucher=history).order_by("id"))
    rows = csv_rows(data)
    assert [int(r["entry"]) for r in rows] == [e.pk for e in entries]
    cap = spent = 0
    for row, entry in zip(rows, entries, strict=True):
        cap += entry.cap_delta_cents
        spent += entry.spent_delta_cents
        assert int(row["spent_change_cents"]) == entry.spent_delta_cents
        assert int(row["remaining_after_cents"]) == cap - spent
        assert row["kind"] == entry.kind
    sums = ledger_sums(voucher=history)
    history.refresh_from_db()
    assert (sums["spent"], sums["cap"]) == (history.spent_cents, history.cap_cents)
    text = pdf_text(pdf)
    assert history.code in text and history.organization.legal_name in text
    assert format_money(sums["spent"], "CNY") in text
    assert format_money(sums["cap"] - sums["spent"], "CNY") in text
    assert "Credit note from the provider." in text
    assert report.summary["totals"]["remaining_cents"] == sums["cap"] - sums["spent"]


def test_voucher_register_uses_the_register_and_embeds_its_csv(
    history, finance, django_capture_on_commit_callbacks
):
    report = request_done(
        finance,
        K.VOUCHER_REGISTER,
        {"program": history.program_id},
        django_capture_on_commit_callbacks,
    )
    pdf, data = assert_hashes(report)
    assert_pdfa(pdf)
    assert attachments(pdf) == {"voucher-register.csv": [data]}
    rows = csv_rows(data)
    vouchers = Voucher.objects.filter(program_id=history.program_id)
    assert {r["code"] for r in rows} == set(vouchers.values_list("code", flat=True))
    assert sum(int(r["spent_cents"]) for r in rows) == ledger_sums(program=history.program)["spent"]
    text = pdf_text(pdf)
    assert "29,572.83" in text and history.code in text
    assert report.summary["totals"]["spent_cents"] == 29_572_83
    assert report.summary["pages"] == report.summary["pages"] >= 1


def test_reconciliation_report_lists_every_finding(
    history, approver, auditor, django_capture_on_commit_callbacks
):
    with connection.cursor() as cursor:  # a voucher edited behind the ledger's back
        cursor.execute(
            "UPDATE vouchers_voucher SET spent_cents = spent_cents + 5 WHERE id = %s", [history.pk]
        )
    run = reconcile_ledger(actor=approver)
    assert run.status == ReconciliationRun.Status.DISCREPANCIES
    report = request_done(
        auditor, K.RECONCILIATION, {"run": run.pk}, django_capture_on_commit_callbacks
    )
    pdf, data = assert_hashes(report)
    assert_pdfa(pdf)
    _embedded(pdf, data, f"reconciliation-{run.pk}.csv")
    rows = csv_rows(data)
    findings = list(Discrepancy.objects.filter(run=run).order_by("id"))
    assert [
        (int(r["finding"]), r["kind"], r["subject"], r["expected"], r["actual"]) for r in rows
    ] == [(d.pk, d.kind, d.subject, d.expected, d.actual) for d in findings]
    text = pdf_text(pdf)
    assert "Discrepancies found" in text and history.code in text
    spent = ledger_sums(voucher=history)["spent"]
    assert f"{Decimal(spent + 5) / 100:.2f}" in text  # the voucher's tampered figure
    voucher_row = next(r for r in rows if r["kind"] == Discrepancy.Kind.VOUCHER_SPENT)
    assert Decimal(voucher_row["expected"]) * 100 == spent  # the ledger's figure
    assert Decimal(voucher_row["actual"]) * 100 == spent + 5
    assert (
        report.summary["counts"]["discrepancies"]
        == run.discrepancy_count
        == len([d for d in findings if d.is_problem])
    )


def test_audit_extract_lists_the_events_and_the_chain_result(
    history, auditor, django_capture_on_commit_callbacks
):
    today = timezone.localdate().isoformat()
    stream = f"vouchers.voucher:{history.pk}"
    report = request_done(
        auditor,
        K.AUDIT_EXTRACT,
        {"date_from": today, "date_to": today, "stream": stream},
        django_capture_on_commit_callbacks,
    )
    pdf, data = assert_hashes(report)
    assert_pdfa(pdf)
    _embedded(pdf, data, f"audit-extract-{today}-{today}.csv")
    events = list(AuditEvent.objects.filter(stream=stream).order_by("occurred_at", "id"))
    rows = csv_rows(data)
    assert [(int(r["id"]), r["hash"], r["action"]) for r in rows] == [
        (e.pk, e.hash, e.action) for e in events
    ]
    text = pdf_text(pdf)
    assert "The audit trail verifies" in text
    assert f"{len(events)} events" in text
    assert report.summary["counts"] == {
        "events": len(events),
        "chain_problems": 0,
        "chain_problems_in_scope": 0,
    }


def test_audit_extract_reports_a_broken_chain(history, auditor, django_capture_on_commit_callbacks):
    victim = AuditEvent.objects.filter(stream=f"vouchers.voucher:{history.pk}").order_by("seq")[1]
    with connection.cursor() as cursor:  # an attacker with the database password
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE audit_auditevent SET data = '{}' WHERE id = %s", [victim.pk])
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")
    today = timezone.localdate().isoformat()
    report = request_done(
        auditor,
        K.AUDIT_EXTRACT,
        {"date_from": today, "date_to": today, "stream": "vouchers.voucher"},
        django_capture_on_commit_callbacks,
    )
    text = pdf_text(assert_hashes(report)[0])
    assert "The audit trail does not verify" in text and "hash_mismatch" in text
    assert report.summary["counts"]["chain_problems_in_scope"] >= 1


def test_a_chinese_report_is_in_chinese_with_the_same_totals(
    history, auditor, django_capture_on_commit_callbacks
):
    report = request_done(
        auditor,
        K.VOUCHER_STATEMENT,
        {"voucher": history.pk, "language": "zh-hans"},
        django_capture_on_commit_callbacks,
    )
    pdf, _data = assert_hashes(report)
    text = pdf_text(pdf).replace(" ", "")
    assert report.language == "zh-hans"
    assert format_money(ledger_sums(voucher=history)["spent"], "CNY").replace(" ", "") in text


def test_csv_cells_cannot_run_as_formulas(
    history, approver, auditor, django_capture_on_commit_callbacks
):
    from disbursement.services.vouchers import voucher_clawback

    reason = '=HYPERLINK("http://evil") found in an audit'
    voucher_clawback(actor=approver, voucher_id=history.pk, amount_cents=1, reason=reason)
    report = request_done(
        auditor, K.VOUCHER_STATEMENT, {"voucher": history.pk}, django_capture_on_commit_callbacks
    )
    rows = csv_rows(assert_hashes(report)[1])
    assert rows[-1]["reason"] == "'" + reason  # shown as text, never run
    for row in rows:
        assert not any(str(cell).startswith(("=", "+", "@")) for cell in row.values())


def test_nearest_rank_percentile():
    assert nearest_rank([], 90) is None
    assert nearest_rank([5.0], 90) == 5.0
    values = [float(n) for n in range(1, 11)]  # 1..10
    assert nearest_rank(values, 90) == 9.0
    assert nearest_rank(values, 50) == 5.0
    assert nearest_rank(list(reversed(values)), 100) == 10.0


def test_time_to_decision_counts_from_the_first_submission(
    history, auditor, django_capture_on_commit_callbacks
):
    application = history.application
    first = application.versions.order_by("number").first().submitted_at
    Application.objects.filter(pk=application.pk).update(decided_at=first + timedelta(days=3))
    report = request_done(
        auditor,
        K.PROGRAM_SUMMARY,
        {"program": history.program_id},
        django_capture_on_commit_callbacks,
    )
    rows = {(r["section"], r["key"]): r for r in csv_rows(assert_hashes(report)[1])}
    assert rows["decision_time", "median_days"]["days"] == "3.00"
    assert rows["decision_time", "p90_days"]["days"] == "3.00"
    assert LedgerEntry.objects.aggregate(s=Sum("spent_delta_cents"))["s"] == 29_572_83


# --- the audit anchor every report prints (reliability plan A4) ------------------------------


def _printed_anchor(text: str) -> tuple[int, str]:
    found = re.search(r"[Cc]heckpoint (\d+), sealed .*? streams:", text)
    assert found, text[:500]
    digits = re.sub(r"\s", "", text[found.end() : found.end() + 120])  # the hash may wrap
    assert re.match(r"[0-9a-f]{64}", digits), digits
    return int(found[1]), digits[:64]


@pytest.mark.parametrize("kind", [K.PROGRAM_SUMMARY, K.VOUCHER_REGISTER])
def test_every_report_prints_the_checkpoint_sealed_for_it(
    kind, history, auditor, django_capture_on_commit_callbacks
):
    """The hash on the paper is the one the database can recompute from its own rows; after an
    attacker rewrites the trail (and re-seals to cover it up), it no longer is."""
    from audit.models import AuditCheckpoint, AuditCheckpointHead
    from audit.services import checkpoint_hash, heads_digest
    from tests.audit.test_chain import _as_attacker, _kinds

    report = request_done(
        auditor, kind, {"program": history.program_id}, django_capture_on_commit_callbacks
    )
    seq, printed = _printed_anchor(pdf_text(assert_hashes(report)[0]))
    checkpoint = AuditCheckpoint.objects.get(seq=seq)
    # Recomputed independently: the heads sealed up to this checkpoint, then its hash.
    latest: dict[str, tuple[int, str]] = {}
    for head in AuditCheckpointHead.objects.filter(checkpoint__seq__lte=seq).order_by("seq"):
        latest[head.stream] = (head.seq, head.hash)
    digest, streams, events = heads_digest(
        (key, *latest[key]) for key in sorted(latest, key=lambda k: k.encode())
    )
    recomputed = checkpoint_hash(
        seq=seq,
        sealed_at=checkpoint.sealed_at,
        stream_count=streams,
        event_count=events,
        new_heads=checkpoint.new_heads,
        heads_sha256=digest,
        prev_hash=checkpoint.prev_hash,
    )
    assert printed == checkpoint.hash == recomputed
    assert _kinds() == set()

    # Tampering: an event edited, then every checkpoint row rebuilt to match. The paper keeps
    # the old hash, so the forgery shows against it even though the chain itself now verifies
    # as far as the rows themselves go.
    victim = AuditEvent.objects.filter(stream=f"vouchers.voucher:{history.pk}").order_by("seq")[1]
    _as_attacker("UPDATE audit_auditevent SET data = '{}' WHERE id = %s", [victim.pk])
    assert "hash_mismatch" in _kinds()
    _as_attacker("UPDATE audit_auditcheckpoint SET hash = %s WHERE seq = %s", ["f" * 64, seq])
    assert AuditCheckpoint.objects.get(seq=seq).hash != printed
