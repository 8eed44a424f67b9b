"""Moving money on a voucher: every movement is one append-only ledger entry.

Callers lock the voucher row first (and the program row when the commitment changes), so the
voucher's spent and cap, and the entry's "after" values, are computed from a consistent state.
"""

from functools import cache
from typing import Any

from django.db import connection, transaction

from core.sql import insert
from disbursement.models import LedgerEntry
from vouchers.models import Voucher

THRESHOLDS = (50, 80, 95, 100)


@transaction.atomic(savepoint=False)
def ledger_append(
    *,
    voucher: Voucher,
    kind: str,
    idempotency_key: str,
    spent_delta: int = 0,
    cap_delta: int = 0,
    committed_delta: int = 0,
    claim: Any = None,
    actor: Any = None,
    reason: str = "",
    opening: bool = False,
) -> LedgerEntry:
    """Append one entry and apply it to the (locked) voucher row in the same transaction.

    The database checks the entry's signs against its kind and 0 <= spent <= cap on both the
    entry and the voucher; a violation rolls the whole movement back.
    """
    if opening:  # the issue entry: the voucher was just created with this cap and nothing spent
        return insert(
            LedgerEntry(
                voucher=voucher,
                program_id=voucher.program_id,
                kind=kind,
                cap_delta_cents=cap_delta,
                committed_delta_cents=committed_delta,
                spent_after_cents=voucher.spent_cents,
                cap_after_cents=voucher.cap_cents,
                actor=actor,
                reason=reason[:1000],
                idempotency_key=idempotency_key,
            )
        )
    spent_after = voucher.spent_cents + spent_delta
    cap_after = voucher.cap_cents + cap_delta
    entry = insert(
        LedgerEntry(
            voucher=voucher,
            program_id=voucher.program_id,
            kind=kind,
            spent_delta_cents=spent_delta,
            cap_delta_cents=cap_delta,
            committed_delta_cents=committed_delta,
            spent_after_cents=spent_after,
            cap_after_cents=cap_after,
            claim=claim,
            actor=actor,
            reason=reason[:1000],
            idempotency_key=idempotency_key,
        )
    )
    if spent_delta or cap_delta:
        with connection.cursor() as cursor:
            cursor.execute(_apply_sql(connection.vendor), [spent_delta, cap_delta, voucher.pk])
        voucher.spent_cents, voucher.cap_cents = spent_after, cap_after
    return entry


@cache
def _apply_sql(vendor: str) -> str:
    """The voucher's side of every movement, written once (see core/sql.py for why). The
    database's checks (0 <= spent <= cap) reject a movement that would break the cap."""
    quote = connection.ops.quote_name
    spent, cap = quote("spent_cents"), quote("cap_cents")
    return (
        f"UPDATE {quote(Voucher._meta.db_table)} "  # noqa: S608  (names only; values are parameters)
        f"SET {spent} = {spent} + %s, {cap} = {cap} + %s WHERE id = %s"
    )


def crossed_thresholds(*, cap_cents: int, spent_before: int, spent_after: int) -> list[int]:
    """The use thresholds (percent of the cap) that this movement crossed upwards."""
    if cap_cents <= 0:
        return []
    return [t for t in THRESHOLDS if spent_before * 100 < t * cap_cents <= spent_after * 100]
