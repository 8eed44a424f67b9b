"""The audit coverage guard (tests/audit_guard.py) itself: what it watches, what it catches."""

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from applicants import services as applicant_services
from audit.models import AuditAction, AuditStream
from audit.services import audit_record
from core.exceptions import DomainError
from tests import conftest
from tests.audit_guard import EXEMPT_TABLES, GUARD, Violation, _report, _Writes
from vouchers import services as voucher_services
from vouchers.models import Program

pytestmark = pytest.mark.django_db


@pytest.fixture
def installed(request: Any) -> None:
    if not GUARD.installed:
        pytest.skip("the audit guard is off (--audit-guard=off)")


def _fake(func: Any) -> Any:
    """A service the guard watches, as if discovered in a service module."""
    return GUARD.wrap(func, f"fake.{func.__name__}")


def _rename(*, program_id: int) -> None:
    Program.objects.filter(pk=program_id).update(name="Renamed without a trace")


def test_guard_discovers_every_service_module_and_only_public_functions() -> None:
    found = GUARD.discover()
    modules = {name.rsplit(".", 1)[0] for name in found}
    assert {
        "accounts.services",
        "applicants.services",
        "notifications.services",
        "audit.services",
        "vouchers.services.decision",
        "vouchers.services.letters",
        "disbursement.services.claims",  # a package without __init__.py
        "disbursement.services.payouts",
        "disbursement.services.reconciliation.alerts",  # a nested package
    } <= modules
    assert len(found) >= 60
    assert {
        "applicants.services.application_submit",
        "vouchers.services.decision.application_approve",
        "disbursement.services.claims.claim_submit",
        "disbursement.services.payouts.payout_export_csv",
        "disbursement.services.vouchers.voucher_clawback",
        "accounts.services.api_token_revoke",
        "audit.services.audit_checkpoint_seal",
    } <= set(found)
    # Private helpers and names imported from elsewhere are not services of the module.
    assert "disbursement.services.claims._decide" not in found
    assert "applicants.services.audit_record" not in found
    assert not any(name.startswith("vouchers.services.application_") for name in found)


def test_guard_replaces_every_reference_to_a_service(installed: None) -> None:
    assert applicant_services.application_submit.__audit_guard__ == (
        "applicants.services.application_submit"
    )
    # Re-exported by a package, imported by another module, imported by a test module.
    assert voucher_services.conflict_declare.__audit_guard__ == (
        "vouchers.services.review.conflict_declare"
    )
    assert applicant_services.application_screen.__audit_guard__ == (
        "vouchers.services.screening.application_screen"
    )
    assert conftest.applicant_services.application_create.__audit_guard__


def test_guard_sees_what_a_real_service_writes(installed: None, draft: Any) -> None:
    writes = GUARD.last_writes["applicants.services.application_create"]
    assert writes["applicants_application"] == {"insert", "update"}
    assert writes["audit_auditevent"] == {"insert"}


def test_unaudited_write_is_caught_and_fails_the_test(
    installed: None, program: Program, request: Any
) -> None:
    GUARD.take()
    _fake(_rename)(program_id=program.pk)
    (violation,) = GUARD.take()
    assert (violation.service, violation.tables) == ("fake._rename", ("vouchers_program",))
    assert request.node.nodeid in violation.where
    if request.config.getoption("--audit-guard") == "strict":
        GUARD.violations.append(violation)
        with pytest.raises(pytest.fail.Exception, match=r"fake._rename wrote to vouchers_program"):
            _report(request.node, "call")
        GUARD.all_violations.remove(violation)  # this one was on purpose
    assert GUARD.take() == []


def test_audited_write_passes(installed: None, program: Program, approver: Any) -> None:
    def rename_and_record(*, program_id: int) -> None:
        _rename(program_id=program_id)
        audit_record(actor=approver, action=AuditAction.PROGRAM_UPDATED, target=program)

    GUARD.take()
    _fake(rename_and_record)(program_id=program.pk)
    assert GUARD.take() == []


def test_exempt_tables_and_empty_writes_pass(installed: None, program: Program) -> None:
    def bookkeeping() -> None:
        AuditStream.objects.create(key="test.bookkeeping")  # exempt: the audit trail's own
        Program.objects.filter(pk=-1).update(name="nobody")  # matched no row: changed nothing

    GUARD.take()
    _fake(bookkeeping)()
    assert GUARD.take() == []
    assert "audit_auditstream" in EXEMPT_TABLES


def test_a_call_that_raises_is_not_checked(installed: None, program: Program) -> None:
    @transaction.atomic
    def rename_then_refuse(*, program_id: int) -> None:
        _rename(program_id=program_id)
        raise DomainError("refused")  # the transaction rolls the write back

    GUARD.take()
    with pytest.raises(DomainError):
        _fake(rename_then_refuse)(program_id=program.pk)
    assert GUARD.take() == []


def test_work_committed_before_an_error_must_have_been_recorded(
    installed: None, program: Program
) -> None:
    def store_then_fail(*, program_id: int) -> None:
        with transaction.atomic():  # committed (a released savepoint, in this test)
            _rename(program_id=program_id)
        raise DomainError("failed after storing")

    GUARD.take()
    with pytest.raises(DomainError):
        _fake(store_then_fail)(program_id=program.pk)
    assert [(v.service, v.tables) for v in GUARD.take()] == [
        ("fake.store_then_fail", ("vouchers_program",))
    ]


def test_a_write_rolled_back_inside_the_service_does_not_count(
    installed: None, program: Program
) -> None:
    def lose_a_race(*, program_id: int) -> None:
        try:
            with transaction.atomic():
                _rename(program_id=program_id)
                raise IntegrityError("a concurrent request won")
        except IntegrityError:
            pass  # the service returns what the winner stored

    GUARD.take()
    _fake(lose_a_race)(program_id=program.pk)
    assert GUARD.take() == []


def test_only_the_outermost_call_must_record(
    installed: None, program: Program, approver: Any
) -> None:
    inner = _fake(_rename)

    def outer(*, program_id: int) -> None:
        inner(program_id=program_id)  # writes without an event, inside an audited service
        audit_record(actor=approver, action=AuditAction.PROGRAM_UPDATED, target=program)

    GUARD.take()
    _fake(outer)(program_id=program.pk)
    assert GUARD.take() == []
    inner(program_id=program.pk)  # called on its own, the same write is a violation
    assert [v.service for v in GUARD.take()] == ["fake._rename"]


class _Cursor:
    rowcount = 1


class _Connection:
    savepoint_ids: list[str] = []
    in_atomic_block = False


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        (
            'INSERT INTO "vouchers_program" ("name") VALUES (%s) RETURNING "id"',
            {"vouchers_program"},
        ),
        ('UPDATE "vouchers_voucher" SET "status" = %s WHERE "id" = %s', {"vouchers_voucher"}),
        (
            'DELETE FROM "disbursement_providerstaff" WHERE "id" IN (%s)',
            {"disbursement_providerstaff"},
        ),
        ('SELECT "id" FROM "vouchers_voucher" WHERE "id" = %s FOR UPDATE', set()),
        (
            "WITH x AS (UPDATE vouchers_program SET name = 'a' RETURNING id) SELECT * FROM x",
            {"vouchers_program"},
        ),
        (
            'INSERT INTO "audit_auditstream" ("key") VALUES (%s) ON CONFLICT ("key") DO UPDATE SET "key" = EXCLUDED."key"',
            {"audit_auditstream"},
        ),
        # A token's last-used stamp alone is not a change (EXEMPT_UPDATE_COLUMNS)...
        ('UPDATE "accounts_apitoken" SET "last_used_at" = %s WHERE "id" = %s', set()),
        # ...but revoking it is.
        (
            'UPDATE "accounts_apitoken" SET "revoked_at" = %s, "updated_at" = %s WHERE "id" = %s',
            {"accounts_apitoken"},
        ),
    ],
)
def test_writes_are_read_from_the_sql(sql: str, tables: set[str]) -> None:
    writes = _Writes()
    context = {"cursor": _Cursor(), "connection": _Connection()}
    writes.observe(lambda *args: None, sql, [], False, context)
    assert set(writes.kept()) == tables


def test_violation_names_the_service_and_tables() -> None:
    text = str(Violation("applicants.services.x", ("a_b", "c_d"), "tests/t.py::test (call)"))
    assert (
        text
        == "applicants.services.x wrote to a_b, c_d without an audit event (during tests/t.py::test (call))"
    )
