"""The ledger run: vouchers, programs and claims against the append-only ledger."""

from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from core.exceptions import NotAllowedError
from disbursement.models import Claim, LedgerEntry, ReconciliationRun
from disbursement.services.reconciliation.policy import ReconAction, recon_allows
from disbursement.services.reconciliation.runs import (
    D,
    Run,
    Sink,
    fail_run,
    finish_run,
    repeatable_read,
    start_run,
    stream_rows,
)
from vouchers.models import Program, Voucher


def _tables() -> dict[str, str]:
    q = connection.ops.quote_name
    return {
        "ledger": q(LedgerEntry._meta.db_table),
        "voucher": q(Voucher._meta.db_table),
        "program": q(Program._meta.db_table),
        "claim": q(Claim._meta.db_table),
    }


# The claims side of the claim check, as one ungrouped pass: a fingerprint of every accepted or
# reversed claim (how many ledger entries it should have, its id x subsidy, its id x voucher),
# weighted as the ledger should show it: an accepted claim one charge (+s), a reversed one a
# charge and a reversal (+s, -s).
CLAIMS_FINGERPRINT_SQL = """
SELECT COUNT(*),
       COALESCE(SUM(CASE WHEN status = 'accepted' THEN 1 ELSE 2 END), 0),
       COALESCE(SUM(id * subsidy_cents * CASE WHEN status = 'accepted' THEN 3 ELSE 2 END), 0),
       COALESCE(SUM(id * voucher_id * CASE WHEN status = 'accepted' THEN 1 ELSE 2 END), 0)
FROM {claim} WHERE status IN ('accepted', 'reversed')
"""
# The ledger side, per entry with a claim: 1, claim x (|delta| + 2 delta) (a charge of s gives
# 3s, its reversal -s), claim x voucher. Equal sums mean every accepted claim has exactly its
# charge, every reversed one its charge and reversal, each of the claim's amount, on the
# claim's voucher; a difference is then found voucher by voucher (CLAIM_VOUCHERS_SQL).
FINGERPRINT_COLUMNS = """COUNT(claim_id) AS c_n,
           SUM(claim_id * (ABS(spent_delta_cents) + 2 * spent_delta_cents)) AS c_amounts,
           SUM(claim_id * voucher_id) AS c_vouchers"""

# One pass over the ledger, grouped by voucher: balances, the programs its entries name, charge
# or reversal entries without a claim, and the claim fingerprint. It keeps the vouchers that
# disagree, one row per program, and the fingerprint's totals ('t') in a temporary table, read
# back through a server-side cursor: bounded memory, while the aggregate itself still runs in
# parallel (PostgreSQL plans no parallel query for a DECLAREd cursor, but does for CREATE AS).
LEDGER_SQL = """
WITH per AS (
    SELECT voucher_id, COUNT(*) AS n,
           SUM(spent_delta_cents) AS spent,
           SUM(cap_delta_cents) AS cap,
           SUM(committed_delta_cents) AS committed,
           MIN(program_id) AS p_min, MAX(program_id) AS p_max,
           -- charge or reversal entries without a claim: by the ledger_deltas_match_kind
           -- constraint exactly those that move spent but not the cap (faster than kind).
           SUM(CASE WHEN claim_id IS NULL AND cap_delta_cents = 0 AND spent_delta_cents <> 0
               THEN 1 ELSE 0 END) AS stray,
           {fingerprint}
    FROM {ledger} GROUP BY voucher_id
),
j AS (
    SELECT v.id, v.code, v.currency, v.program_id, v.spent_cents, v.cap_cents,
           COALESCE(per.n, 0) AS n, COALESCE(per.spent, 0) AS spent,
           COALESCE(per.cap, 0) AS cap, COALESCE(per.committed, 0) AS committed,
           CASE WHEN per.voucher_id IS NULL
                  OR (per.p_min = v.program_id AND per.p_max = v.program_id) THEN 0 ELSE 1 END
               AS other_program,
           COALESCE(per.stray, 0) AS stray
    FROM {voucher} v LEFT JOIN per ON per.voucher_id = v.id
)
SELECT 'v' AS tag, id, code, currency, spent_cents AS a1, spent AS a2, cap_cents AS a3,
       cap AS a4, other_program AS a5, stray AS a6, 0 AS a7
FROM j WHERE spent_cents <> spent OR cap_cents <> cap OR other_program = 1 OR stray > 0
UNION ALL
SELECT 'p', p.id, p.code, p.currency, p.committed_cents, COALESCE(SUM(j.committed), 0),
       COALESCE(SUM(j.cap_cents), 0), COALESCE(SUM(j.spent_cents), 0),
       COALESCE(SUM(j.spent), 0), COALESCE(SUM(j.n), 0), COUNT(j.id)
FROM {program} p LEFT JOIN j ON j.program_id = p.id
GROUP BY p.id, p.code, p.currency, p.committed_cents
UNION ALL
SELECT 't', 0, '', '', COALESCE(SUM(c_n), 0), COALESCE(SUM(c_amounts), 0),
       COALESCE(SUM(c_vouchers), 0), 0, 0, 0, 0
FROM per
"""

# Only when the fingerprints differ: the same fingerprint per voucher on both sides.
CLAIM_VOUCHERS_SQL = """
WITH l AS (
    SELECT voucher_id, {fingerprint}
    FROM {ledger} WHERE claim_id IS NOT NULL GROUP BY voucher_id
),
c AS (
    SELECT voucher_id,
           SUM(CASE WHEN status = 'accepted' THEN 1 ELSE 2 END) AS c_n,
           SUM(id * subsidy_cents * CASE WHEN status = 'accepted' THEN 3 ELSE 2 END)
               AS c_amounts,
           SUM(id * voucher_id * CASE WHEN status = 'accepted' THEN 1 ELSE 2 END) AS c_vouchers
    FROM {claim} WHERE status IN ('accepted', 'reversed') GROUP BY voucher_id
)
SELECT v.id, v.code FROM {voucher} v
LEFT JOIN l ON l.voucher_id = v.id LEFT JOIN c ON c.voucher_id = v.id
WHERE COALESCE(l.c_n, 0) <> COALESCE(c.c_n, 0)
   OR COALESCE(l.c_amounts, 0) <> COALESCE(c.c_amounts, 0)
   OR COALESCE(l.c_vouchers, 0) <> COALESCE(c.c_vouchers, 0)
"""

# The claims and entries of the vouchers found above, one row per claim or entry.
CLAIM_DETAIL_SQL = """
SELECT c.id, c.voucher_id, c.status, c.subsidy_cents, c.provider_reference, c.invoice_number,
       COALESCE(SUM(CASE WHEN l.kind = 'charge' THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN l.kind = 'charge' THEN l.spent_delta_cents ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN l.kind = 'reversal' THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN l.kind = 'reversal' THEN l.spent_delta_cents ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN l.voucher_id <> c.voucher_id THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN l.kind NOT IN ('charge', 'reversal') THEN 1 ELSE 0 END), 0)
FROM {claim} c LEFT JOIN {ledger} l ON l.claim_id = c.id
WHERE c.voucher_id IN ({ids}) AND c.status IN ('accepted', 'reversed')
GROUP BY c.id, c.voucher_id, c.status, c.subsidy_cents, c.provider_reference, c.invoice_number
"""
# Entries on those vouchers that belong to no accepted or reversed claim of theirs (a claim
# moved to another examined voucher is reported once, from the claim's side).
STRAY_ENTRY_SQL = """
SELECT l.id, l.voucher_id, l.kind, l.spent_delta_cents, l.claim_id, c.status, c.voucher_id
FROM {ledger} l LEFT JOIN {claim} c ON c.id = l.claim_id
WHERE l.voucher_id IN ({ids})
  AND (l.kind IN ('charge', 'reversal') OR l.claim_id IS NOT NULL)
  AND (c.id IS NULL OR c.status NOT IN ('accepted', 'reversed')
       OR (l.kind = 'reversal' AND c.status <> 'reversed')
       OR c.voucher_id IS NULL OR c.voucher_id NOT IN ({ids}))
"""


def reconcile_ledger(*, actor: Any = None) -> ReconciliationRun:
    """Compare every voucher, program and accepted claim with the ledger; store what differs.

    The run row is committed first (status running), so a crash leaves a visible failed run.
    Returns the finished run: clean, or with discrepancies (then one alert and the emails are
    queued in the same transaction). Each call is a new run; nothing is changed but the run.
    """
    if actor is not None and not recon_allows(actor, ReconAction.RUN_LEDGER):
        raise NotAllowedError(_("Only approvers, administrators and finance run a reconciliation."))
    run = start_run(Run.Kind.LEDGER, actor)
    try:
        _ledger_run(run)
    except Exception as exc:
        fail_run(run.pk, exc)
        raise
    return run


@transaction.atomic(durable=True)
def _ledger_run(run: ReconciliationRun) -> None:
    repeatable_read()
    sink = Sink(run)
    tables = {**_tables(), "fingerprint": FINGERPRINT_COLUMNS}
    with connection.cursor() as cursor:
        cursor.execute(CLAIMS_FINGERPRINT_SQL.format(**tables))
        claims, *claims_print = (int(x) for x in cursor.fetchone())
    checked = {"vouchers": 0, "programs": 0, "ledger_entries": 0, "claims": claims}
    flagged: dict[int, str] = {}
    ledger_print: list[int] = []
    on_commit = "ON COMMIT DROP" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE recon_ledger {on_commit} AS " + LEDGER_SQL.format(**tables)
        )
    for raw in stream_rows("SELECT * FROM recon_ledger ORDER BY tag DESC, id"):
        # UNION ALL types a column by all its rows: sums make numeric columns (Decimal).
        row = tuple(int(x) if isinstance(x, Decimal) else x for x in raw)
        if row[0] == "v":
            _voucher_row(sink, row, flagged)
        elif row[0] == "p":
            _program_row(sink, row, checked)
        else:
            ledger_print = list(row[4:7])
    # Dropped now, not only at commit: inside an outer transaction (tests) a second run in the
    # same transaction creates it again. An error rolls the creation back instead.
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE recon_ledger")
    if ledger_print != claims_print:
        for voucher_id, code in stream_rows(CLAIM_VOUCHERS_SQL.format(**tables)):
            flagged[voucher_id] = code
    found_before = sink.by_kind.get(D.CLAIM_LEDGER, 0)
    ids = sorted(flagged)
    for start in range(0, len(ids), 500):  # vouchers whose claims and entries disagree
        _claim_details(sink, tables, {pk: flagged[pk] for pk in ids[start : start + 500]})
    if ledger_print != claims_print and sink.by_kind.get(D.CLAIM_LEDGER, 0) == found_before:
        sink.add(  # the totals differ but no voucher does: say so rather than stay silent
            D.CLAIM_LEDGER,
            _("all claims"),
            expected=" / ".join(map(str, claims_print))[:60],
            actual=" / ".join(map(str, ledger_print))[:60],
            detail={"claims_fingerprint": claims_print, "ledger_fingerprint": ledger_print},
        )
    finish_run(run, sink, checked)


def _voucher_row(sink: Sink, row: tuple[Any, ...], flagged: dict[int, str]) -> None:
    voucher_id, code, currency, spent, ledger_spent, cap, ledger_cap, other, stray = row[1:10]
    base = {"voucher": voucher_id, "currency": currency}
    if spent != ledger_spent:
        sink.add(
            D.VOUCHER_SPENT,
            code,
            expected=ledger_spent,
            actual=spent,
            detail={**base, "difference_cents": spent - ledger_spent},
        )
    if cap != ledger_cap:
        sink.add(
            D.VOUCHER_CAP,
            code,
            expected=ledger_cap,
            actual=cap,
            detail={**base, "difference_cents": cap - ledger_cap},
        )
    if other:
        sink.add(
            D.PROGRAM_COMMITTED,
            code,
            expected=_("the voucher's program"),
            actual=_("another program"),
            detail={**base, "against": "entries_under_other_program"},
        )
    if stray:
        flagged[voucher_id] = code


def _program_row(sink: Sink, row: tuple[Any, ...], checked: dict[str, Any]) -> None:
    program_id, code, currency, committed, ledger_committed, caps, spent, ledger_spent = row[1:9]
    entries, vouchers = row[9:11]
    checked["programs"] += 1
    checked["vouchers"] += vouchers
    checked["ledger_entries"] += entries
    base = {"program": program_id, "currency": currency}
    if committed != ledger_committed:
        sink.add(
            D.PROGRAM_COMMITTED,
            code,
            expected=ledger_committed,
            actual=committed,
            detail={**base, "against": "ledger", "difference_cents": committed - ledger_committed},
        )
    if committed != caps:
        sink.add(
            D.PROGRAM_COMMITTED,
            code,
            expected=caps,
            actual=committed,
            detail={**base, "against": "voucher_caps", "difference_cents": committed - caps},
        )
    if spent != ledger_spent:
        sink.add(
            D.PROGRAM_SPENT,
            code,
            expected=ledger_spent,
            actual=spent,
            detail={**base, "difference_cents": spent - ledger_spent},
        )


def _claim_details(sink: Sink, tables: dict[str, str], vouchers: dict[int, str]) -> None:
    ids = ", ".join(str(int(pk)) for pk in vouchers)
    for row in stream_rows(CLAIM_DETAIL_SQL.format(ids=ids, **tables)):
        claim_id, voucher_id, status, subsidy, reference, invoice = row[:6]
        c_n, c_sum, r_n, r_sum, elsewhere, other_kinds = (int(x) for x in row[6:])
        problem = c_n != 1 or c_sum != subsidy or elsewhere or other_kinds
        if status == Claim.Status.ACCEPTED:
            problem = problem or r_n != 0
        else:
            problem = problem or r_n != 1 or r_sum != -subsidy
        if not problem:
            continue
        sink.add(
            D.CLAIM_LEDGER,
            f"{vouchers[voucher_id]} / {reference}",
            expected=subsidy,
            actual=c_sum if c_n else _("no charge"),
            detail={
                "claim": claim_id,
                "voucher": voucher_id,
                "status": status,
                "invoice": invoice,
                "charges": c_n,
                "charged_cents": c_sum,
                "reversals": r_n,
                "reversed_cents": r_sum,
                "entries_on_other_vouchers": elsewhere,
                "entries_of_other_kinds": other_kinds,
            },
        )
    for row in stream_rows(STRAY_ENTRY_SQL.format(ids=ids, **tables)):
        entry_id, voucher_id, kind, amount, claim_id, claim_status, claim_voucher = row
        sink.add(
            D.CLAIM_LEDGER,
            f"{vouchers[voucher_id]} / entry {entry_id}",
            expected=_("no entry"),
            actual=int(amount),
            detail={
                "entry": entry_id,
                "voucher": voucher_id,
                "kind": kind,
                "claim": claim_id,
                "claim_status": claim_status,
                "claim_voucher": claim_voucher,
            },
        )
