"""The ledger and the audit trail cannot be changed by the application (plan M9 and A2).

Every way the application's database role could change a row is tried on both append-only
tables: the ORM (queryset update and delete, instance save and delete) and raw SQL (UPDATE,
DELETE, TRUNCATE). PostgreSQL's triggers refuse each one; nothing changes.
"""

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError

from audit.models import AuditCheckpoint, AuditEvent
from audit.services import audit_checkpoint_seal
from disbursement.models import LedgerEntry

# Transactional: TRUNCATE inside the test's own transaction would fail for another reason
# (pending deferred-constraint events) before reaching the trigger.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TABLES = {
    "ledger": (LedgerEntry, "disbursement_ledgerentry", "reason"),
    "audit events": (AuditEvent, "audit_auditevent", "target_label"),
    "checkpoints": (AuditCheckpoint, "audit_auditcheckpoint", "heads_sha256"),
}


SQL_UPDATE = "UPDATE {table} SET {column} = 'x' WHERE id = %s"
SQL_DELETE = "DELETE FROM {table} WHERE id = %s"
SQL_TRUNCATE = "TRUNCATE {table} CASCADE"


def _raw(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _attempts(model, table: str, column: str, row) -> dict:
    return {
        "queryset update": lambda: model.objects.filter(pk=row.pk).update(**{column: "x"}),
        "queryset delete": lambda: model.objects.filter(pk=row.pk).delete(),
        "instance save": lambda: (setattr(row, column, "x"), row.save(update_fields=[column])),
        "instance delete": lambda: row.delete(),
        "raw UPDATE": lambda: _raw(SQL_UPDATE.format(table=table, column=column), [row.pk]),
        "raw DELETE": lambda: _raw(SQL_DELETE.format(table=table), [row.pk]),
        # The test settings let the suite's own flush TRUNCATE; production sets nothing.
        "raw TRUNCATE": lambda: _raw(
            "SET LOCAL audit.allow_truncate = off; " + SQL_TRUNCATE.format(table=table), []
        ),
    }


@pytest.mark.parametrize("name", TABLES)
def test_every_way_to_change_a_row_is_refused(name, active_voucher):
    audit_checkpoint_seal()
    model, table, column = TABLES[name]
    row = model.objects.order_by("pk").first()
    before = list(model.objects.order_by("pk").values())
    refused = []
    for how, attempt in _attempts(model, table, column, row).items():
        with pytest.raises((DatabaseError, ProtectedError)) as refusal, transaction.atomic():
            attempt()
        # The trigger's words, or the ORM refusing first (a checkpoint's sealed heads PROTECT it).
        assert "append-only" in str(refusal.value) or isinstance(refusal.value, ProtectedError)
        refused.append(how)
        row.refresh_from_db()
    assert len(refused) == 7
    assert list(model.objects.order_by("pk").values()) == before
