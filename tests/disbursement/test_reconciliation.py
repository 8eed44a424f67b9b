"""Reconciliation: a clean run on history built through the real services; every planted
discrepancy found with its kind; provider statements line by line; bad files refused with
nothing stored; one alert and one email per recipient per run; the command's exit codes; who
may see and do what through the API and the pages."""

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction, AuditEvent
from core.exceptions import DomainError, NotAllowedError
from disbursement.models import Alert, Claim, LedgerEntry, ProviderStaff, ReconciliationRun
from disbursement.services import reconciliation as recon
from disbursement.services.claims import claim_submit
from disbursement.services.reconciliation import ledger as recon_ledger
from disbursement.services.reconciliation import reconcile_ledger, reconcile_statement
from disbursement.services.reconciliation import runs as recon_runs
from disbursement.services.reconciliation import statement as recon_statement
from disbursement.services.vouchers import claim_reverse, voucher_clawback
from disbursement.tasks import reconcile_ledger_task
from notifications.models import Notification
from tests.conftest import api_as
from tests.disbursement.conftest import claim_input
from tests.factories import ProviderFactory, UserFactory
from vouchers import codes

pytestmark = pytest.mark.django_db

D = recon_runs.D
HEADER = "voucher_code,invoice_number,provider_reference,amount,currency,service_date\n"


# --- History through the real services -----------------------------------------------------


def _claim(staff: User, voucher: Any, **kw: Any) -> Claim:
    provider = staff.provider_staff.provider
    claim = claim_submit(actor=staff, provider=provider, data=claim_input(voucher, **kw)).claim
    assert claim.status == Claim.Status.ACCEPTED, claim.rejection_message
    return claim


@pytest.fixture
def history(provider_staff: User, active_voucher: Any, approver: User) -> dict[str, Any]:
    """Three accepted claims (11,000.00 of subsidy each), one of them reversed, and a
    clawback: every kind of movement but expiry."""
    claims = [_claim(provider_staff, active_voucher, invoice=f"INV-{i}") for i in range(3)]
    claim_reverse(actor=approver, claim_id=claims[2].pk, reason="Credit note from the provider.")
    voucher_clawback(
        actor=approver,
        voucher_id=active_voucher.pk,
        amount_cents=1_000_00,
        reason="Ineligible usage found in audit.",
    )
    active_voucher.refresh_from_db()
    return {"voucher": active_voucher, "claims": claims}


@pytest.fixture
def officers(db: Any) -> dict[str, User]:
    return {
        "admin": UserFactory(role=User.Role.ADMIN),
        "auditor": UserFactory(role=User.Role.AUDITOR),
        "finance": UserFactory(role=User.Role.FINANCE),
        "reviewer": UserFactory(role=User.Role.REVIEWER),
    }


def _sql(statement: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _kinds(run: ReconciliationRun, problems: bool = True) -> list[str]:
    qs = run.discrepancies.order_by("kind", "subject")
    if problems:
        qs = qs.filter(is_problem=True)
    return sorted(qs.values_list("kind", flat=True))


# --- Ledger runs ------------------------------------------------------------------------------


def test_reconcile_ledger_is_clean_on_history_built_by_the_services(history, approver):
    run = reconcile_ledger(actor=approver)
    assert run.status == ReconciliationRun.Status.CLEAN
    assert run.discrepancy_count == 0 and not run.discrepancies.exists()
    voucher = history["voucher"]
    assert run.checked["vouchers"] == 1 and run.checked["programs"] == 1
    assert run.checked["ledger_entries"] == LedgerEntry.objects.count() == 6  # issue, 3, 1, 1
    assert run.checked["claims"] == 3
    assert voucher.spent_cents == 2 * 11_000_00 - 1_000_00
    assert run.finished_at is not None and run.started_by == approver
    event = AuditEvent.objects.get(action=AuditAction.RECONCILIATION_RUN, target_id=str(run.pk))
    assert event.data["status"] == "clean" and event.actor == approver
    assert not Alert.objects.filter(kind=Alert.Kind.RECONCILIATION).exists()
    assert not Notification.objects.filter(kind="reconciliation_alert").exists()


def test_reconcile_ledger_is_clean_with_no_data_at_all():
    run = reconcile_ledger()
    assert run.status == "clean" and run.checked["vouchers"] == 0 and run.started_by is None


def test_voucher_spent_changed_behind_the_ledger_is_found(history):
    voucher = history["voucher"]
    _sql("UPDATE vouchers_voucher SET spent_cents = spent_cents + 5 WHERE id = %s", [voucher.pk])
    run = reconcile_ledger()
    assert run.status == ReconciliationRun.Status.DISCREPANCIES
    assert _kinds(run) == [D.PROGRAM_SPENT, D.VOUCHER_SPENT]
    found = run.discrepancies.get(kind=D.VOUCHER_SPENT)
    assert found.subject == voucher.code
    assert (found.expected, found.actual) == ("21000.00", "21000.05")
    assert found.detail["difference_cents"] == 5
    assert run.discrepancy_count == 2


def test_voucher_cap_changed_behind_the_ledger_is_found(history):
    voucher = history["voucher"]
    _sql("UPDATE vouchers_voucher SET cap_cents = cap_cents + 100 WHERE id = %s", [voucher.pk])
    run = reconcile_ledger()
    # The cap no longer matches its ledger, and the program's committed no longer the caps.
    assert _kinds(run) == [D.PROGRAM_COMMITTED, D.VOUCHER_CAP]
    committed = run.discrepancies.get(kind=D.PROGRAM_COMMITTED)
    assert committed.detail["against"] == "voucher_caps"
    assert committed.subject == voucher.program.code


def test_program_committed_changed_is_found_against_ledger_and_caps(history):
    program = history["voucher"].program
    _sql(
        "UPDATE vouchers_program SET committed_cents = committed_cents - 1 WHERE id = %s",
        [program.pk],
    )
    run = reconcile_ledger()
    assert _kinds(run) == [D.PROGRAM_COMMITTED, D.PROGRAM_COMMITTED]
    against = sorted(d.detail["against"] for d in run.discrepancies.all())
    assert against == ["ledger", "voucher_caps"]


@pytest.mark.postgres
def test_ledger_rows_cannot_be_edited_so_a_stray_row_is_planted_instead(history):
    voucher = history["voucher"]
    with pytest.raises(Exception, match="append-only"):
        _sql(
            "UPDATE disbursement_ledgerentry SET spent_delta_cents = 1 WHERE voucher_id = %s",
            [voucher.pk],
        )


def test_a_stray_ledger_charge_without_claim_is_found(history):
    voucher = history["voucher"]
    _sql(
        "INSERT INTO disbursement_ledgerentry (voucher_id, program_id, kind, spent_delta_cents,"
        " cap_delta_cents, committed_delta_cents, spent_after_cents, cap_after_cents, reason,"
        " idempotency_key, created_at) VALUES (%s, %s, 'charge', 700, 0, 0, %s, %s, '',"
        " 'planted:1', %s)",
        [
            voucher.pk,
            voucher.program_id,
            voucher.spent_cents + 700,
            voucher.cap_cents,
            timezone.now(),
        ],
    )
    run = reconcile_ledger()
    assert _kinds(run) == [D.CLAIM_LEDGER, D.PROGRAM_SPENT, D.VOUCHER_SPENT]
    stray = run.discrepancies.get(kind=D.CLAIM_LEDGER)
    assert stray.detail["kind"] == "charge" and stray.detail["claim"] is None
    assert stray.actual == "7.00"


def _insert_entry(
    voucher: Any,
    kind: str,
    spent_delta: int,
    *,
    program_id: int | None = None,
    claim_id: int | None = None,
    key: str = "planted:1",
) -> None:
    _sql(
        "INSERT INTO disbursement_ledgerentry (voucher_id, program_id, kind, spent_delta_cents,"
        " cap_delta_cents, committed_delta_cents, spent_after_cents, cap_after_cents, claim_id,"
        " reason, idempotency_key, created_at)"
        " VALUES (%s, %s, %s, %s, 0, 0, %s, %s, %s, '', %s, %s)",
        [
            voucher.pk,
            program_id or voucher.program_id,
            kind,
            spent_delta,
            voucher.spent_cents + spent_delta,
            voucher.cap_cents,
            claim_id,
            key,
            timezone.now(),
        ],
    )


def test_a_stray_charge_hidden_by_a_matching_voucher_edit_is_still_found(history):
    voucher = history["voucher"]
    _insert_entry(voucher, "charge", 700)
    _sql("UPDATE vouchers_voucher SET spent_cents = spent_cents + 700 WHERE id = %s", [voucher.pk])
    run = reconcile_ledger()
    assert _kinds(run) == [D.CLAIM_LEDGER]
    assert run.discrepancies.get().detail["kind"] == "charge"


def test_a_second_charge_for_a_claim_hidden_by_a_voucher_edit_is_found(history):
    voucher, claim = history["voucher"], history["claims"][0]
    _insert_entry(voucher, "charge", claim.subsidy_cents, claim_id=claim.pk)
    _sql(
        "UPDATE vouchers_voucher SET spent_cents = spent_cents + %s WHERE id = %s",
        [claim.subsidy_cents, voucher.pk],
    )
    run = reconcile_ledger()
    assert _kinds(run) == [D.CLAIM_LEDGER]
    found = run.discrepancies.get()
    assert found.detail["claim"] == claim.pk and found.detail["charges"] == 2


def test_a_reversed_claim_whose_subsidy_was_changed_is_found(history):
    reversed_claim = history["claims"][2]
    _sql(
        "UPDATE disbursement_claim SET subsidy_cents = subsidy_cents - 100 WHERE id = %s",
        [reversed_claim.pk],
    )
    run = reconcile_ledger()
    assert _kinds(run) == [D.CLAIM_LEDGER]
    assert run.discrepancies.get().detail["claim"] == reversed_claim.pk


def test_entries_recorded_under_another_program_are_found(history):
    from tests.factories import ProgramFactory

    voucher = history["voucher"]
    other = ProgramFactory()
    _insert_entry(voucher, "expiry_release", 0, program_id=other.pk)
    run = reconcile_ledger()
    assert _kinds(run) == [D.PROGRAM_COMMITTED]
    found = run.discrepancies.get()
    assert found.subject == voucher.code
    assert found.detail["against"] == "entries_under_other_program"


def test_a_claim_whose_subsidy_was_changed_is_found(history):
    claim = history["claims"][0]
    _sql(
        "UPDATE disbursement_claim SET subsidy_cents = subsidy_cents - 1 WHERE id = %s", [claim.pk]
    )
    run = reconcile_ledger()
    assert _kinds(run) == [D.CLAIM_LEDGER]
    found = run.discrepancies.get()
    assert found.detail["claim"] == claim.pk
    assert (found.expected, found.actual) == ("10999.99", "11000.00")


def test_an_accepted_claim_without_its_charge_entry_is_found(history, provider_staff):
    voucher = history["voucher"]
    rejected = claim_submit(
        actor=provider_staff,
        provider=provider_staff.provider_staff.provider,
        data=claim_input(voucher, currency="EUR"),
    ).claim
    assert rejected.status == "rejected" and rejected.voucher_id == voucher.pk
    _sql(
        "UPDATE disbursement_claim SET status = 'accepted', subsidy_cents = 100,"
        " eligible_cents = 100 WHERE id = %s",
        [rejected.pk],
    )
    run = reconcile_ledger()
    assert _kinds(run) == [D.CLAIM_LEDGER]
    found = run.discrepancies.get()
    assert found.detail["claim"] == rejected.pk and found.detail["charges"] == 0
    assert found.actual == "no charge"


def test_a_reversed_claim_turned_accepted_again_is_found(history):
    reversed_claim = history["claims"][2]
    _sql("UPDATE disbursement_claim SET status = 'accepted' WHERE id = %s", [reversed_claim.pk])
    run = reconcile_ledger()
    kinds = _kinds(run)
    assert D.CLAIM_LEDGER in kinds and set(kinds) == {D.CLAIM_LEDGER}
    assert reversed_claim.pk in {d.detail.get("claim") for d in run.discrepancies.all()}


def test_a_claim_moved_to_another_voucher_is_found(history):
    claim = history["claims"][0]
    second = _second_voucher(history["voucher"])
    _sql("UPDATE disbursement_claim SET voucher_id = %s WHERE id = %s", [second.pk, claim.pk])
    run = reconcile_ledger()
    found = run.discrepancies.get(kind=D.CLAIM_LEDGER)
    assert found.detail["claim"] == claim.pk and found.detail["entries_on_other_vouchers"] == 1


def _second_voucher(voucher: Any) -> Any:
    """A copy of the voucher row under a new code and application (raw rows: no history)."""
    from applicants.models import Application

    app = Application.objects.get(pk=voucher.application_id)
    app.pk = None
    app.reference = app.reference + "-B"
    app.status = "withdrawn"
    app.save()
    voucher.pk = None
    voucher.code = codes.generate()
    voucher.application = app
    voucher.cap_cents, voucher.spent_cents = 1_00, 0
    voucher.save()
    # Its issue entry and commitment, so that only the moved claim disagrees.
    LedgerEntry.objects.create(
        voucher=voucher,
        program_id=voucher.program_id,
        kind="issue",
        cap_delta_cents=1_00,
        committed_delta_cents=1_00,
        spent_after_cents=0,
        cap_after_cents=1_00,
        idempotency_key=f"issue:{voucher.pk}",
    )
    _sql(
        "UPDATE vouchers_program SET committed_cents = committed_cents + 100 WHERE id = %s",
        [voucher.program_id],
    )
    return voucher


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outside_any_transaction_a_run_reads_one_snapshot(history):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        run = reconcile_ledger()
    assert run.status == "clean"
    # PostgreSQL refuses SET TRANSACTION after any query of the transaction: it ran first.
    statements = [q["sql"] for q in queries.captured_queries]
    isolation = statements.index("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    assert any("WITH per AS" in sql for sql in statements[isolation:])


def test_only_the_first_findings_are_stored_but_all_are_counted(history, monkeypatch):
    voucher = history["voucher"]
    monkeypatch.setattr(recon_runs, "MAX_STORED", 1)
    _sql("UPDATE vouchers_voucher SET spent_cents = spent_cents + 5 WHERE id = %s", [voucher.pk])
    run = reconcile_ledger()
    assert run.discrepancy_count == 2 and run.discrepancies.count() == 1
    assert run.checked["truncated"] is True and run.checked["stored"] == 1


def test_a_failing_run_is_stored_as_failed(monkeypatch):
    def boom(run: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(recon_ledger, "_ledger_run", boom)
    with pytest.raises(RuntimeError):
        reconcile_ledger()
    run = ReconciliationRun.objects.get()
    assert run.status == "failed" and "database went away" in run.error


def test_only_money_officers_and_finance_run_it(applicant, officers):
    with pytest.raises(NotAllowedError):
        reconcile_ledger(actor=applicant)
    with pytest.raises(NotAllowedError):
        reconcile_ledger(actor=officers["auditor"])
    assert reconcile_ledger(actor=officers["finance"]).status == "clean"


# --- Alerts and emails ------------------------------------------------------------------------


def test_discrepancies_raise_one_alert_and_one_email_per_officer_per_run(
    history, officers, approver, applicant, mailoutbox, django_capture_on_commit_callbacks
):
    voucher = history["voucher"]
    _sql("UPDATE vouchers_voucher SET spent_cents = spent_cents + 5 WHERE id = %s", [voucher.pk])
    with django_capture_on_commit_callbacks(execute=True):
        run = reconcile_ledger()
    alert = Alert.objects.get(kind=Alert.Kind.RECONCILIATION)
    assert alert.run == run and alert.dedupe_key == f"reconciliation:{run.pk}"
    recipients = {
        n.recipient_email for n in Notification.objects.filter(kind="reconciliation_alert")
    }
    assert recipients == {approver.email, officers["admin"].email, officers["auditor"].email}
    mails = [m for m in mailoutbox if m.subject.startswith("Reconciliation")]
    assert sorted(m.to[0] for m in mails) == sorted(recipients)
    assert "2 discrepancies" in mails[0].subject
    assert f"/reconciliation/{run.pk}/" in mails[0].body
    # Raising it again for the same run changes nothing.
    recon_runs.raise_alert(run)
    assert Alert.objects.filter(run=run).count() == 1
    assert Notification.objects.filter(kind="reconciliation_alert").count() == 3
    # The next run is a new run: its own alert.
    second = reconcile_ledger()
    assert Alert.objects.filter(kind=Alert.Kind.RECONCILIATION).count() == 2
    assert Alert.objects.filter(run=second).count() == 1


def test_alert_acknowledge_is_recorded_once(history, approver, officers):
    run = _broken_run(history)
    alert = run.alerts.get()
    first = recon.alert_acknowledge(actor=approver, alert_id=alert.pk)
    again = recon.alert_acknowledge(actor=officers["admin"], alert_id=alert.pk)
    assert first.acknowledged_by == approver and again.acknowledged_by == approver
    assert (
        AuditEvent.objects.filter(target_id=str(alert.pk), action="alert.acknowledged").count() == 1
    )
    with pytest.raises(NotAllowedError):
        recon.alert_acknowledge(actor=officers["auditor"], alert_id=alert.pk)


def _broken_run(history: dict[str, Any]) -> ReconciliationRun:
    voucher = history["voucher"]
    _sql("UPDATE vouchers_voucher SET spent_cents = spent_cents + 5 WHERE id = %s", [voucher.pk])
    return reconcile_ledger()


# --- Command and task -------------------------------------------------------------------------


def test_command_exits_zero_when_clean(history, capsys):
    call_command("reconcile")
    assert "CLEAN" in capsys.readouterr().out


def test_command_exits_one_and_lists_discrepancies(history, capsys):
    voucher = history["voucher"]
    _sql("UPDATE vouchers_voucher SET spent_cents = spent_cents + 5 WHERE id = %s", [voucher.pk])
    with pytest.raises(CommandError) as exc:
        call_command("reconcile")
    assert exc.value.returncode == 1 and "2 DISCREPANCIES" in str(exc.value)
    err = capsys.readouterr().err
    assert f"voucher_spent: {voucher.code} expected=21000.00 actual=21000.05" in err


def test_command_exits_two_when_the_run_fails(monkeypatch):
    monkeypatch.setattr(recon_ledger, "_ledger_run", lambda run: 1 / 0)
    with pytest.raises(CommandError) as exc:
        call_command("reconcile")
    assert exc.value.returncode == 2 and "FAILED" in str(exc.value)


def test_task_runs_the_ledger_reconciliation(history):
    run_id = reconcile_ledger_task()
    assert ReconciliationRun.objects.get(pk=run_id).status == "clean"


# --- Statements -------------------------------------------------------------------------------


def _csv(*rows: tuple[Any, ...]) -> bytes:
    lines = [",".join(str(cell) for cell in row) for row in rows]
    return (HEADER + "\n".join(lines) + "\n").encode()


def _upload(data: bytes, name: str = "statement.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def _month() -> Any:
    return timezone.localdate().replace(day=1)


def _mistyped(code: str) -> str:
    last = code[-1]
    replacement = next(ch for ch in codes.ALPHABET if ch != last)
    return code[:-1] + replacement


@pytest.fixture
def statement_setup(provider_staff, active_voucher, approver) -> dict[str, Any]:
    a = _claim(provider_staff, active_voucher, invoice="INV-A", reference="REF-A")
    b = _claim(provider_staff, active_voucher, invoice="INV-B", reference="REF-B")
    c = _claim(provider_staff, active_voucher, invoice="INV-C", reference="REF-C")
    d = _claim(provider_staff, active_voucher, invoice="INV-D", reference="REF-D")
    e = _claim(provider_staff, active_voucher, invoice="INV-E", reference="REF-E")
    claim_reverse(actor=approver, claim_id=d.pk, reason="Credit note from the provider.")
    last_month = timezone.now() - timedelta(days=40)
    _sql("UPDATE disbursement_claim SET created_at = %s WHERE id = %s", [last_month, e.pk])
    return {"voucher": active_voucher, "a": a, "b": b, "c": c, "d": d, "e": e}


def test_statement_lines_are_each_classified(statement_setup, provider_staff):
    s = statement_setup
    code, day = s["voucher"].code, timezone.localdate().isoformat()
    unknown = codes.generate()
    data = _csv(
        (code, "INV-A", "REF-A", "11000.00", "CNY", day),  # matched
        (code.lower().replace("-", ""), "INV-B", "REF-B", "11000.01", "CNY", day),  # amount
        (code, "INV-A", "REF-A", "11000.00", "CNY", day),  # duplicate
        (code, "INV-X", "REF-X", "200000.00", "CNY", day),  # no claim; pushes over the cap
        (code, "INV-D", "REF-D", "11000.00", "CNY", day),  # reversed
        (code, "INV-E", "REF-E", "11000.00", "CNY", day),  # accepted last month
        (unknown, "INV-Y", "REF-Y", "5.00", "CNY", day),  # unknown voucher
        (_mistyped(code), "INV-Z", "REF-Z", "5.00", "CNY", day),  # bad check character
    )  # INV-C, accepted this month, is left out
    run = reconcile_statement(
        actor=provider_staff,
        provider_id=provider_staff.provider_staff.provider.pk,
        month=_month(),
        csv_file=_upload(data),
    )
    by_subject = {(d.subject, d.kind): d for d in run.discrepancies.all()}
    assert not by_subject[("INV-A", D.STATEMENT_MATCHED)].is_problem
    assert by_subject[("INV-B", D.STATEMENT_AMOUNT)].expected == "11000.00"
    assert by_subject[("INV-B", D.STATEMENT_AMOUNT)].actual == "11000.01"
    assert by_subject[("INV-A", D.STATEMENT_DUPLICATE)].detail["line"] == 4
    assert by_subject[("INV-X", D.STATEMENT_MISSING)].detail["reason"] == "no_claim"
    assert by_subject[("INV-D", D.STATEMENT_MISSING)].detail["reason"] == "reversed"
    assert by_subject[("INV-E", D.STATEMENT_MISSING)].detail["reason"] == "other_month"
    assert by_subject[("INV-Y", D.STATEMENT_UNKNOWN_VOUCHER)].detail["reason"] == "not_found"
    assert (
        by_subject[("INV-Z", D.STATEMENT_UNKNOWN_VOUCHER)].detail["reason"] == "bad_check_character"
    )
    over = by_subject[(s["voucher"].code, D.STATEMENT_OVER_CAP)]
    assert (over.expected, over.actual) == ("150000.00", "244000.01")  # all but the duplicate
    left_out = by_subject[("INV-C", D.CLAIM_NOT_IN_STATEMENT)]
    assert left_out.detail["claim"] == s["c"].pk and left_out.expected == "11000.00"
    assert len(by_subject) == 10
    assert run.discrepancy_count == 9 and run.status == "discrepancies"
    assert run.checked["lines"] == 8 and run.checked["matched"] == 1
    assert run.checked["claims_in_month"] == 3  # A, B, C (D reversed, E last month)
    assert run.statement_sha256 == hashlib.sha256(data).hexdigest()
    assert run.statement_file.read() == data
    assert run.statement_month == _month() and run.provider_id == s["a"].provider_id
    assert Alert.objects.filter(run=run).count() == 1


def test_a_statement_that_agrees_is_clean(statement_setup, finance):
    s = statement_setup
    code, day = s["voucher"].code, timezone.localdate().isoformat()
    data = _csv(*[(code, f"INV-{x}", f"REF-{x}", "11000.00", "CNY", day) for x in "ABC"])
    run = reconcile_statement(
        actor=finance, provider_id=s["a"].provider_id, month=_month(), csv_file=_upload(data)
    )
    assert run.status == "clean" and run.discrepancy_count == 0
    assert _kinds(run, problems=False) == [D.STATEMENT_MATCHED] * 3
    assert not Alert.objects.exists()
    assert AuditEvent.objects.filter(
        action=AuditAction.RECONCILIATION_RUN, target_id=str(run.pk)
    ).exists()


GOOD_LINE = "CV-0000-0000-0000-0,INV-1,REF-1,10.00,CNY,2026-01-31\n"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "statement_empty"),
        (b"  \n", "statement_empty"),
        (HEADER.encode(), "statement_empty"),
        (b"voucher,invoice,amount\nx,y,1\n", "statement_columns"),
        (HEADER.replace("amount", "subsidy").encode() + GOOD_LINE.encode(), "statement_columns"),
        ("\ufeff".encode() + HEADER.encode() + b"\xff\xfe,1\n", "statement_not_utf8"),
        ((HEADER + GOOD_LINE.replace("10.00", "10.005")).encode(), "statement_invalid_lines"),
        ((HEADER + GOOD_LINE.replace("10.00", "ten")).encode(), "statement_invalid_lines"),
        ((HEADER + GOOD_LINE.replace("10.00", "-10.00")).encode(), "statement_invalid_lines"),
        ((HEADER + GOOD_LINE.replace("10.00", "1e5")).encode(), "statement_invalid_lines"),
        ((HEADER + GOOD_LINE.replace("CNY", "yuan")).encode(), "statement_invalid_lines"),
        (
            (HEADER + GOOD_LINE.replace("2026-01-31", "31/01/2026")).encode(),
            "statement_invalid_lines",
        ),
        ((HEADER + GOOD_LINE.replace(",REF-1", "")).encode(), "statement_invalid_lines"),
        ((HEADER + GOOD_LINE.replace("INV-1", "")).encode(), "statement_invalid_lines"),
        ((HEADER + 'CV-1,"INV-1,REF\n').encode(), "statement_malformed"),
        (b"%PDF-1.7\x00\x01binary", "statement_not_utf8"),
    ],
)
def test_bad_statement_files_are_refused_and_nothing_is_stored(provider_staff, data, code):
    provider = provider_staff.provider_staff.provider
    with pytest.raises(DomainError) as exc:
        reconcile_statement(
            actor=provider_staff, provider_id=provider.pk, month=_month(), csv_file=_upload(data)
        )
    assert exc.value.code == code, exc.value.message
    assert exc.value.fields["file"]
    assert not ReconciliationRun.objects.exists()


def test_a_statement_file_too_large_is_refused(provider_staff, monkeypatch):
    monkeypatch.setattr(recon_statement, "STATEMENT_MAX_BYTES", 100)
    provider = provider_staff.provider_staff.provider
    with pytest.raises(DomainError) as exc:
        reconcile_statement(
            actor=provider_staff,
            provider_id=provider.pk,
            month=_month(),
            csv_file=_upload((HEADER + GOOD_LINE * 3).encode()),
        )
    assert exc.value.code == "statement_too_large"
    assert not ReconciliationRun.objects.exists()


def test_line_errors_name_their_line(provider_staff):
    data = (HEADER + GOOD_LINE + GOOD_LINE.replace("10.00", "1.234")).encode()
    with pytest.raises(DomainError) as exc:
        reconcile_statement(
            actor=provider_staff,
            provider_id=provider_staff.provider_staff.provider.pk,
            month=_month(),
            csv_file=_upload(data),
        )
    assert exc.value.fields["file"][0].startswith("Line 3: amount '1.234'")


def test_a_future_month_is_refused(provider_staff):
    with pytest.raises(DomainError) as exc:
        reconcile_statement(
            actor=provider_staff,
            provider_id=provider_staff.provider_staff.provider.pk,
            month=_month() + timedelta(days=40),
            csv_file=_upload((HEADER + GOOD_LINE).encode()),
        )
    assert exc.value.code == "statement_month_future"


def test_only_the_providers_own_staff_or_finance_reconcile_its_statement(
    provider_staff, applicant, officers
):
    provider = provider_staff.provider_staff.provider
    stranger = UserFactory(role=User.Role.PROVIDER)
    ProviderStaff.objects.create(provider=ProviderFactory(), user=stranger)
    for user in (stranger, applicant, officers["auditor"], officers["reviewer"]):
        with pytest.raises(NotAllowedError):
            reconcile_statement(
                actor=user,
                provider_id=provider.pk,
                month=_month(),
                csv_file=_upload((HEADER + GOOD_LINE).encode()),
            )
    assert not ReconciliationRun.objects.exists()


# --- API --------------------------------------------------------------------------------------


@pytest.fixture
def other_staff(db: Any) -> User:
    user = UserFactory(role=User.Role.PROVIDER)
    ProviderStaff.objects.create(provider=ProviderFactory(), user=user)
    return user


def _statement_run(user: User, provider_id: int) -> ReconciliationRun:
    return reconcile_statement(
        actor=user,
        provider_id=provider_id,
        month=_month() - timedelta(days=1),
        csv_file=_upload((HEADER + GOOD_LINE).encode()),
    )


def test_api_runs_the_ledger_reconciliation_for_officers_and_finance(
    history, approver, officers, provider_staff, applicant
):
    url = reverse("api:reconciliations")
    for user in (approver, officers["admin"], officers["finance"]):
        response = api_as(user).post(url)
        assert response.status_code == 201, response.json()
        assert response.json()["status"] == "clean" and response.json()["discrepancies"] == []
    for user in (officers["auditor"], officers["reviewer"], provider_staff, applicant):
        response = api_as(user).post(url)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"


def test_api_lists_and_shows_runs_with_their_discrepancies(history, officers):
    run = _broken_run(history)
    client = api_as(officers["auditor"])
    listing = client.get(reverse("api:reconciliations"), {"kind": "ledger"}).json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == run.pk
    assert listing["results"][0]["discrepancy_count"] == 2
    detail = client.get(reverse("api:reconciliation", args=[run.pk])).json()
    kinds = sorted(d["kind"] for d in detail["discrepancies"])
    assert kinds == ["program_spent", "voucher_spent"]
    assert detail["discrepancies"][0]["expected"] and detail["checked"]["vouchers"] == 1


def test_api_providers_see_only_their_own_statement_runs(
    history, provider_staff, other_staff, finance
):
    ledger_run = reconcile_ledger()
    mine = _statement_run(provider_staff, provider_staff.provider_staff.provider.pk)
    theirs = _statement_run(finance, other_staff.provider_staff.provider.pk)
    client = api_as(provider_staff)
    ids = [r["id"] for r in client.get(reverse("api:reconciliations")).json()["results"]]
    assert ids == [mine.pk]
    assert client.get(reverse("api:reconciliation", args=[mine.pk])).status_code == 200
    for hidden in (theirs, ledger_run):
        response = client.get(reverse("api:reconciliation", args=[hidden.pk]))
        assert response.status_code == 404
    assert api_as(other_staff).get(reverse("api:reconciliation", args=[mine.pk])).status_code == 404


def test_api_statement_upload(statement_setup, provider_staff, other_staff, finance):
    provider = provider_staff.provider_staff.provider
    url = reverse("api:provider-statements", args=[provider.pk])
    code, day = statement_setup["voucher"].code, timezone.localdate().isoformat()
    data = _csv(*[(code, f"INV-{x}", f"REF-{x}", "11000.00", "CNY", day) for x in "ABC"])
    month = f"{_month():%Y-%m}"
    response = api_as(provider_staff).post(
        url, {"month": month, "file": _upload(data)}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "clean" and body["statement_month"] == month
    assert body["statement_sha256"] == hashlib.sha256(data).hexdigest()
    assert len(body["discrepancies"]) == 3
    response = api_as(finance).post(
        url, {"month": month, "file": _upload(data)}, format="multipart"
    )
    assert response.status_code == 201
    # Another provider's staff may not reconcile this provider's statement.
    response = api_as(other_staff).post(
        url, {"month": month, "file": _upload(data)}, format="multipart"
    )
    assert response.status_code == 403
    # A bad file or month: a 400 with a code, nothing stored.
    before = ReconciliationRun.objects.count()
    response = api_as(finance).post(
        url, {"month": month, "file": _upload(b"a,b\n1,2\n")}, format="multipart"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "statement_columns"
    response = api_as(finance).post(
        url, {"month": "2026-13", "file": _upload(data)}, format="multipart"
    )
    assert response.status_code == 400 and "month" in response.json()["error"]["fields"]
    # Year 0 matched the pattern once, and date() then answered 500 (found by schemathesis).
    response = api_as(finance).post(
        url, {"month": "0000-01", "file": _upload(data)}, format="multipart"
    )
    assert response.status_code == 400 and "month" in response.json()["error"]["fields"]
    response = api_as(finance).post(url, {"month": month}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]
    assert ReconciliationRun.objects.count() == before
    missing = reverse("api:provider-statements", args=[provider.pk + 1000])
    response = api_as(finance).post(
        missing, {"month": month, "file": _upload(data)}, format="multipart"
    )
    assert response.status_code == 404


def test_api_alerts_list_and_acknowledge(history, approver, officers, provider_staff, applicant):
    run = _broken_run(history)
    alert = run.alerts.get()
    response = api_as(officers["auditor"]).get(reverse("api:alerts"), {"open": "true"})
    assert response.status_code == 200
    assert [a["id"] for a in response.json()["results"]] == [alert.pk]
    for user in (provider_staff, applicant, officers["reviewer"]):
        assert api_as(user).get(reverse("api:alerts")).status_code == 403
    url = reverse("api:alert-acknowledge", args=[alert.pk])
    assert api_as(officers["auditor"]).post(url).status_code == 403
    assert api_as(provider_staff).post(url).status_code == 404
    response = api_as(approver).post(url)
    assert response.status_code == 200 and response.json()["acknowledged_by"] == approver.email
    assert api_as(approver).post(url).status_code == 200  # again: no change
    open_now = api_as(approver).get(reverse("api:alerts"), {"open": "true"}).json()
    assert open_now["count"] == 0


def test_api_unknown_and_huge_ids_are_404(finance):
    client = api_as(finance)
    for path in (
        reverse("api:reconciliation", args=[10**20]),
        reverse("api:provider-statements", args=[10**20]),
        reverse("api:alert-acknowledge", args=[10**20]),
        "/api/v1/reconciliations/?provider=99999999999999999999999&kind=x&status=y",
    ):
        response = (
            client.post(path)
            if "acknowledge" in path or "statements" in path
            else (client.get(path))
        )
        assert response.status_code in (200, 404), (path, response.status_code)


def test_page_run_now_reports_a_failed_run(client, approver, monkeypatch):
    from django.db import DatabaseError

    def fail(run: Any) -> None:
        raise DatabaseError("disk full")

    monkeypatch.setattr(recon_ledger, "_ledger_run", fail)
    client.force_login(approver)
    response = client.post(reverse("reconciliation:run_now"), follow=True)
    assert response.status_code == 200 and "failed" in response.content.decode()
    assert ReconciliationRun.objects.get().status == "failed"


# --- Pages ------------------------------------------------------------------------------------


def _page_client(client: Any, user: User) -> Any:
    client.force_login(user)
    return client


def test_pages_runs_list_run_now_and_detail(client, history, approver):
    _page_client(client, approver)
    response = client.get(reverse("reconciliation:runs"))
    assert response.status_code == 200 and b'data-testid="run-now"' in response.content
    response = client.post(reverse("reconciliation:run_now"))
    run = ReconciliationRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reconciliation:run_detail", args=[run.pk])
    page = client.get(response["Location"])
    assert page.status_code == 200 and "No discrepancy" in page.content.decode()


def test_pages_show_discrepancies_and_alerts(client, history, approver):
    run = _broken_run(history)
    _page_client(client, approver)
    page = client.get(reverse("reconciliation:run_detail", args=[run.pk])).content.decode()
    assert history["voucher"].code in page and "21000.05" in page
    alerts = client.get(reverse("reconciliation:alerts"))
    alert = run.alerts.get()
    assert f'data-testid="acknowledge-{alert.pk}"' in alerts.content.decode()
    response = client.post(reverse("reconciliation:alert_acknowledge", args=[alert.pk]))
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == approver


def test_pages_statement_upload_for_finance(client, statement_setup, finance):
    s = statement_setup
    _page_client(client, finance)
    url = reverse("reconciliation:statement_upload")
    assert client.get(url).status_code == 200
    code, day = s["voucher"].code, timezone.localdate().isoformat()
    data = _csv(*[(code, f"INV-{x}", f"REF-{x}", "11000.00", "CNY", day) for x in "ABC"])
    response = client.post(
        url,
        {"provider": s["a"].provider_id, "month": f"{_month():%Y-%m}", "file": _upload(data)},
    )
    run = ReconciliationRun.objects.get()
    assert response.status_code == 302 and run.status == "clean"
    download = client.get(reverse("reconciliation:statement_download", args=[run.pk]))
    assert b"".join(download.streaming_content) == data
    bad = client.post(
        url,
        {
            "provider": s["a"].provider_id,
            "month": f"{_month():%Y-%m}",
            "file": _upload(b"\xff\xfe\x00"),
        },
    )
    assert bad.status_code == 400 and "not UTF-8" in bad.content.decode()
    assert ReconciliationRun.objects.count() == 1


def test_pages_provider_sees_only_its_runs_and_uploads_for_itself(
    client, provider_staff, other_staff, finance
):
    mine = _statement_run(provider_staff, provider_staff.provider_staff.provider.pk)
    theirs = _statement_run(finance, other_staff.provider_staff.provider.pk)
    _page_client(client, provider_staff)
    listing = client.get(reverse("reconciliation:runs")).content.decode()
    assert f"#{mine.pk}<" in listing and f"#{theirs.pk}<" not in listing
    assert 'data-testid="run-now"' not in listing
    assert client.get(reverse("reconciliation:run_detail", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("reconciliation:run_now")).status_code == 403
    assert client.get(reverse("reconciliation:alerts")).status_code == 403
    form = client.get(reverse("reconciliation:statement_upload")).content.decode()
    assert other_staff.provider_staff.provider.short_name not in form


def test_pages_are_closed_to_applicants_and_reviewers(client, applicant, officers):
    for user in (applicant, officers["reviewer"]):
        client.force_login(user)
        assert client.get(reverse("reconciliation:runs")).status_code == 403
        assert client.get(reverse("reconciliation:statement_upload")).status_code == 403
