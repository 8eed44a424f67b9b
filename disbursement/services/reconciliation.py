"""Reconciliation: prove that the money adds up, and say exactly where it does not.

Two kinds of run, each stored with one Discrepancy row per problem:

- **ledger** (`reconcile_ledger`): every voucher's spent and cap against the sums of its ledger
  entries; every program's committed against the sum of its entries' committed deltas and
  against the caps of its vouchers; every program's spent (its vouchers) against its entries;
  every accepted (or reversed) claim against its charge (and reversal) entry.
- **statement** (`reconcile_statement`): a provider's monthly statement (CSV) against the
  provider's accepted claims of that month. A claim belongs to the month in which it was
  accepted (its `created_at`, in the project's time zone): that is when the subsidy was charged
  to the voucher and what the provider is paid for, whatever the service dates say.

Every comparison is an SQL aggregate (GROUP BY) read in one snapshot; only the rows that
disagree come back to Python, through a server-side cursor, so a run needs the same memory at
a thousand ledger entries as at a hundred million. At most RECONCILIATION_MAX_STORED problems
are stored per run (all are counted). A run with problems raises one Alert and emails officers
and auditors through the outbox; every run writes one audit event.
"""

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_record
from core.exceptions import DomainError, NotAllowedError
from core.money import MoneyError, cents_to_str, parse_cents
from disbursement.models import Alert, Claim, Discrepancy, LedgerEntry, Provider, ReconciliationRun
from notifications.services import notification_enqueue
from vouchers import codes
from vouchers.models import Program, Voucher

D = Discrepancy.Kind
Run = ReconciliationRun

MAX_STORED = getattr(settings, "RECONCILIATION_MAX_STORED", 10_000)
STATEMENT_MAX_BYTES = getattr(settings, "RECONCILIATION_STATEMENT_MAX_BYTES", 5 * 1024 * 1024)
STATEMENT_MAX_LINES = getattr(settings, "RECONCILIATION_STATEMENT_MAX_LINES", 50_000)
STATEMENT_COLUMNS = (
    "voucher_code",
    "invoice_number",
    "provider_reference",
    "amount",
    "currency",
    "service_date",
)
BATCH = 2_000
# Until audit.models.AuditAction has ALERT_ACKNOWLEDGED, its value is written as is.
ALERT_ACKNOWLEDGED: Any = getattr(AuditAction, "ALERT_ACKNOWLEDGED", "alert.acknowledged")


# --- Who may do what (read by the API and the pages too) --------------------------------------


class ReconAction(StrEnum):
    RUN_LEDGER = "run_ledger"
    VIEW_ALL = "view_all"
    UPLOAD_ANY_STATEMENT = "upload_any_statement"
    VIEW_ALERTS = "view_alerts"
    ACKNOWLEDGE_ALERT = "acknowledge_alert"


ROLES: dict[ReconAction, frozenset[str]] = {
    ReconAction.RUN_LEDGER: frozenset({User.Role.APPROVER, User.Role.ADMIN, User.Role.FINANCE}),
    ReconAction.VIEW_ALL: frozenset(
        {User.Role.APPROVER, User.Role.ADMIN, User.Role.AUDITOR, User.Role.FINANCE}
    ),
    ReconAction.UPLOAD_ANY_STATEMENT: frozenset(
        {User.Role.APPROVER, User.Role.ADMIN, User.Role.FINANCE}
    ),
    ReconAction.VIEW_ALERTS: frozenset(
        {User.Role.APPROVER, User.Role.ADMIN, User.Role.AUDITOR, User.Role.FINANCE}
    ),
    ReconAction.ACKNOWLEDGE_ALERT: frozenset(
        {User.Role.APPROVER, User.Role.ADMIN, User.Role.FINANCE}
    ),
}
LEDGER_ALERT_ROLES = (User.Role.APPROVER, User.Role.ADMIN, User.Role.AUDITOR)
STATEMENT_ALERT_ROLES = (*LEDGER_ALERT_ROLES, User.Role.FINANCE)


def recon_allows(user: Any, action: ReconAction) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role in ROLES[action])


def own_provider_id(user: Any) -> int | None:
    """The provider a provider-staff user acts for, if that provider is active."""
    from disbursement.policies import provider_of  # the app's policy module owns this rule

    provider = provider_of(user)
    return provider.pk if provider is not None else None


def may_upload_statement(user: Any, provider_id: int) -> bool:
    if recon_allows(user, ReconAction.UPLOAD_ANY_STATEMENT):
        return True
    return user.is_authenticated and user.is_active and own_provider_id(user) == provider_id


def runs_visible_to(user: Any) -> QuerySet[ReconciliationRun]:
    """Finance, approvers, admins and auditors see every run; provider staff their own
    provider's statement runs; everybody else nothing."""
    qs = Run.objects.select_related("provider", "started_by")
    if recon_allows(user, ReconAction.VIEW_ALL):
        return qs
    provider_id = own_provider_id(user) if user.is_authenticated and user.is_active else None
    if provider_id is None:
        return qs.none()
    return qs.filter(kind=Run.Kind.STATEMENT, provider_id=provider_id)


def alerts_visible_to(user: Any) -> QuerySet[Alert]:
    qs = Alert.objects.select_related("voucher", "run", "acknowledged_by")
    return qs if recon_allows(user, ReconAction.VIEW_ALERTS) else qs.none()


# --- Shared run plumbing ----------------------------------------------------------------------


@dataclass
class _Sink:
    """Collects a run's findings: stores them in batches, counts them all."""

    run: ReconciliationRun
    problems: int = 0
    stored: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    _pending: list[Discrepancy] = field(default_factory=list)

    def add(
        self,
        kind: str,
        subject: str,
        *,
        expected: int | str | None = None,
        actual: int | str | None = None,
        detail: dict[str, Any] | None = None,
        is_problem: bool = True,
    ) -> None:
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        if is_problem:
            self.problems += 1
        if self.stored >= MAX_STORED:
            return
        self.stored += 1
        self._pending.append(
            Discrepancy(
                run=self.run,
                kind=kind,
                subject=str(subject)[:120],
                expected=_money(expected),
                actual=_money(actual),
                detail=detail or {},
                is_problem=is_problem,
            )
        )
        if len(self._pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        Discrepancy.objects.bulk_create(self._pending)
        self._pending = []


def _money(value: int | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return ("-" if value < 0 else "") + cents_to_str(abs(value))
    return str(value)[:60]


@transaction.atomic
def _start(kind: str, actor: Any, **fields: Any) -> ReconciliationRun:
    started_by = actor if getattr(actor, "is_authenticated", False) else None
    return Run.objects.create(kind=kind, started_by=started_by, **fields)


def _finish(run: ReconciliationRun, sink: _Sink, checked: dict[str, Any]) -> None:
    """Close the run in the caller's transaction: status, counts, audit, alert and emails."""
    sink.flush()
    run.status = Run.Status.DISCREPANCIES if sink.problems else Run.Status.CLEAN
    run.discrepancy_count = sink.problems
    run.checked = {
        **checked,
        "found": dict(sorted(sink.by_kind.items())),
        "stored": sink.stored,
        "truncated": sink.stored < sum(sink.by_kind.values()),
    }
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "discrepancy_count", "checked", "finished_at", "updated_at"])
    audit_record(
        actor=run.started_by,
        action=AuditAction.RECONCILIATION_RUN,
        target=run,
        data={
            "kind": run.kind,
            "status": run.status,
            "discrepancies": run.discrepancy_count,
            "checked": {k: v for k, v in checked.items() if isinstance(v, int | str)},
            "provider": run.provider_id,
            "sha256": run.statement_sha256,
        },
    )
    if sink.problems:
        _alert(run)


def _alert(run: ReconciliationRun) -> None:
    """One alert per run (dedupe key), and one email per recipient, through the outbox."""
    if run.kind == Run.Kind.LEDGER:
        message = _("Ledger reconciliation found %(n)d discrepancies.") % {
            "n": run.discrepancy_count
        }
        roles: tuple[str, ...] = LEDGER_ALERT_ROLES
    else:
        message = _("The %(month)s statement of %(provider)s has %(n)d discrepancies.") % {
            "month": f"{run.statement_month:%Y-%m}" if run.statement_month else "",
            "provider": run.provider.short_name if run.provider else "",
            "n": run.discrepancy_count,
        }
        roles = STATEMENT_ALERT_ROLES
    _alert_row, created = Alert.objects.get_or_create(
        dedupe_key=f"reconciliation:{run.pk}",
        defaults={"kind": Alert.Kind.RECONCILIATION, "message": message[:500], "run": run},
    )
    if not created:
        return
    link = settings.SITE_URL + reverse("reconciliation:run_detail", args=[run.pk])
    for user in User.objects.filter(role__in=roles, is_active=True).order_by("pk"):
        notification_enqueue(
            kind="reconciliation_alert",
            recipient=user,
            recipient_email=user.email,
            language=user.preferred_language,
            template="reconciliation_alert",
            dedupe_key=f"reconciliation_alert:{run.pk}:{user.pk}",
            context={
                "user_name": user.full_name,
                "kind": run.kind,
                "count": run.discrepancy_count,
                "provider": run.provider.short_name if run.provider else "",
                "month": f"{run.statement_month:%Y-%m}" if run.statement_month else "",
                "found": run.checked.get("found", {}),
                "link": link,
            },
        )


@transaction.atomic
def _fail(run_id: int, exc: BaseException) -> None:
    Run.objects.filter(pk=run_id).update(
        status=Run.Status.FAILED,
        error=f"{type(exc).__name__}: {exc}"[:5000],
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


def _repeatable_read() -> None:
    """Read every query of this transaction from one snapshot (PostgreSQL), so a claim that
    commits between two queries cannot show up as a false discrepancy. Must be the
    transaction's first statement, so it is skipped when the block is nested (tests)."""
    conn = transaction.get_connection()
    if conn.vendor == "postgresql" and conn.in_atomic_block and not conn.savepoint_ids:
        with conn.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def _rows(sql: str, params: Iterable[Any] = ()) -> Iterator[tuple[Any, ...]]:
    """Stream a query's rows: a server-side cursor on PostgreSQL (bounded memory)."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, list(params))
        while True:
            chunk = cursor.fetchmany(BATCH)
            if not chunk:
                return
            yield from chunk


# --- Ledger run -------------------------------------------------------------------------------


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
    run = _start(Run.Kind.LEDGER, actor)
    try:
        _ledger_run(run)
    except Exception as exc:
        _fail(run.pk, exc)
        raise
    return run


@transaction.atomic(durable=True)
def _ledger_run(run: ReconciliationRun) -> None:
    _repeatable_read()
    sink = _Sink(run)
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
    for raw in _rows("SELECT * FROM recon_ledger ORDER BY tag DESC, id"):
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
        for voucher_id, code in _rows(CLAIM_VOUCHERS_SQL.format(**tables)):
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
    _finish(run, sink, checked)


def _voucher_row(sink: _Sink, row: tuple[Any, ...], flagged: dict[int, str]) -> None:
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


def _program_row(sink: _Sink, row: tuple[Any, ...], checked: dict[str, Any]) -> None:
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


def _claim_details(sink: _Sink, tables: dict[str, str], vouchers: dict[int, str]) -> None:
    ids = ", ".join(str(int(pk)) for pk in vouchers)
    for row in _rows(CLAIM_DETAIL_SQL.format(ids=ids, **tables)):
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
    for row in _rows(STRAY_ENTRY_SQL.format(ids=ids, **tables)):
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


# --- Statement run ----------------------------------------------------------------------------

_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class StatementLine:
    number: int  # line in the file, the header being line 1
    voucher_code: str
    invoice_number: str
    provider_reference: str
    amount_cents: int
    currency: str
    service_date: date


def _bad_file(code: str, message: str, problems: list[str] | None = None) -> DomainError:
    return DomainError(message, code=code, fields={"file": problems or [message]})


def parse_statement(raw: bytes) -> list[StatementLine]:
    """Validate a statement file strictly and return its lines, or raise DomainError (with a
    code) saying what is wrong and where. Nothing is stored for a bad file."""
    if len(raw) > STATEMENT_MAX_BYTES:
        raise _too_large()
    if not raw.strip():
        raise _bad_file("statement_empty", _("The file is empty."))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _bad_file(
            "statement_not_utf8",
            _("The file is not UTF-8 text (byte %(pos)d). Save the CSV as UTF-8.")
            % {"pos": exc.start + 1},
        ) from exc
    if "\x00" in text:
        raise _bad_file("statement_not_utf8", _("The file is not a text CSV file."))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise _bad_file("statement_empty", _("The file is empty."))
        names = [h.strip().lower() for h in header]
        if names != list(STATEMENT_COLUMNS):
            missing = [c for c in STATEMENT_COLUMNS if c not in names]
            extra = [c for c in names if c not in STATEMENT_COLUMNS]
            raise _bad_file(
                "statement_columns",
                _(
                    "The first line must name the columns %(want)s, in this order. "
                    "Missing: %(missing)s. Not expected: %(extra)s."
                )
                % {
                    "want": ", ".join(STATEMENT_COLUMNS),
                    "missing": ", ".join(missing) or "-",
                    "extra": ", ".join(e or '""' for e in extra) or "-",
                },
            )
        lines: list[StatementLine] = []
        problems: list[str] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines (a trailing newline, a spreadsheet's empty row)
            if len(lines) + len(problems) >= STATEMENT_MAX_LINES:
                raise _bad_file(
                    "statement_too_large",
                    _("The statement has more than %(n)d lines.") % {"n": STATEMENT_MAX_LINES},
                )
            try:
                lines.append(_line(reader.line_num, row))
            except ValueError as exc:
                problems.append(str(exc))
                if len(problems) >= 20:
                    break
    except csv.Error as exc:
        raise _bad_file(
            "statement_malformed",
            _("Line %(n)d is not valid CSV: %(error)s.") % {"n": reader.line_num, "error": exc},
        ) from exc
    if problems:
        raise _bad_file(
            "statement_invalid_lines",
            _("%(n)s line(s) of the statement are invalid; nothing was stored. First: %(first)s")
            % {
                "n": f"{len(problems)}+" if len(problems) >= 20 else len(problems),
                "first": problems[0],
            },
            problems,
        )
    if not lines:
        raise _bad_file("statement_empty", _("The statement has a header but no lines."))
    return lines


def _line(number: int, row: list[str]) -> StatementLine:
    if len(row) != len(STATEMENT_COLUMNS):
        raise ValueError(
            _("Line %(n)d has %(got)d columns; %(want)d are expected.")
            % {"n": number, "got": len(row), "want": len(STATEMENT_COLUMNS)}
        )
    code, invoice, reference, amount, currency, service_date = (cell.strip() for cell in row)
    if not code or not invoice:
        raise ValueError(
            _("Line %(n)d: the voucher code and invoice number are required.") % {"n": number}
        )
    if len(code) > 40 or len(invoice) > 100 or len(reference) > 100:
        raise ValueError(_("Line %(n)d: a value is too long.") % {"n": number})
    try:
        cents = parse_cents(amount, allow_zero=True)
    except MoneyError as exc:
        raise ValueError(
            _("Line %(n)d: amount %(value)s: %(error)s")
            % {"n": number, "value": repr(amount[:30]), "error": exc.message}
        ) from exc
    if not _CURRENCY.match(currency):
        raise ValueError(
            _("Line %(n)d: currency must be a three-letter ISO 4217 code such as CNY.")
            % {"n": number}
        )
    try:
        served = date.fromisoformat(service_date)
        if len(service_date) != 10:
            raise ValueError(service_date)
    except ValueError as exc:
        raise ValueError(
            _("Line %(n)d: service_date must be a date written YYYY-MM-DD.") % {"n": number}
        ) from exc
    return StatementLine(number, code, invoice, reference, cents, currency, served)


def _too_large() -> DomainError:
    return _bad_file(
        "statement_too_large",
        _("The file is larger than %(n)s MB. Split the statement by month.")
        % {"n": f"{STATEMENT_MAX_BYTES / (1024 * 1024):g}"},
    )


def _read_upload(csv_file: Any) -> bytes:
    """The uploaded bytes, reading at most one byte more than the limit."""
    size = getattr(csv_file, "size", None)
    if size is not None and size > STATEMENT_MAX_BYTES:
        raise _too_large()
    if hasattr(csv_file, "seek"):
        csv_file.seek(0)
    data = csv_file.read(STATEMENT_MAX_BYTES + 1)
    return data.encode() if isinstance(data, str) else bytes(data)


def month_start(month: date) -> date:
    return month.replace(day=1)


def _month_bounds(month: date) -> tuple[datetime, datetime]:
    first = month_start(month)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(first, time.min), tz),
        timezone.make_aware(datetime.combine(following, time.min), tz),
    )


def reconcile_statement(
    *, actor: Any, provider_id: int, month: date, csv_file: IO[bytes] | Any
) -> ReconciliationRun:
    """Check a provider's statement of one month against its accepted claims of that month.

    Every line gets one row: matched (not a problem), or duplicate, unknown voucher, missing
    (no accepted claim of the month for that invoice: the detail says why) or amount differs;
    vouchers whose statement total exceeds the cap and accepted claims of the month that the
    statement leaves out get one row each. The file and its SHA-256 are stored on the run.
    A bad file raises DomainError with a code and nothing is stored.
    """
    provider = Provider.objects.filter(pk=provider_id).first()
    if provider is None:
        raise DomainError(_("There is no such provider."), code="not_found")
    if not may_upload_statement(actor, provider.pk):
        raise NotAllowedError(
            _("Only the provider's own staff, finance and approvers reconcile its statements.")
        )
    first = month_start(month)
    if first > timezone.localdate().replace(day=1):
        message = _("The statement month cannot be in the future.")
        raise DomainError(message, code="statement_month_future", fields={"month": [message]})
    raw = _read_upload(csv_file)
    lines = parse_statement(raw)
    digest = hashlib.sha256(raw).hexdigest()
    return _statement_run(actor, provider, first, raw, digest, lines)


@transaction.atomic(durable=True)
def _statement_run(
    actor: Any, provider: Provider, first: date, raw: bytes, digest: str, lines: list[StatementLine]
) -> ReconciliationRun:
    run = Run(
        kind=Run.Kind.STATEMENT,
        provider=provider,
        statement_month=first,
        statement_sha256=digest,
        started_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    _repeatable_read()
    run.statement_file.save(
        f"{provider.pk}/{first:%Y-%m}-{digest[:16]}.csv", ContentFile(raw), save=False
    )
    run.save()
    sink = _Sink(run)
    start, end = _month_bounds(first)
    claims = _claims_by_invoice(provider, {ln.invoice_number for ln in lines})
    vouchers = _vouchers_by_code(lines)
    seen: set[str] = set()
    totals: dict[str, int] = {}
    matched = 0
    for line in lines:
        base = {
            "line": line.number,
            "voucher_code": line.voucher_code,
            "reference": line.provider_reference,
            "service_date": str(line.service_date),
        }
        if line.invoice_number in seen:
            sink.add(
                D.STATEMENT_DUPLICATE, line.invoice_number, actual=line.amount_cents, detail=base
            )
            continue
        seen.add(line.invoice_number)
        voucher = vouchers.get(line.voucher_code)
        if not isinstance(voucher, Voucher):
            sink.add(
                D.STATEMENT_UNKNOWN_VOUCHER,
                line.invoice_number,
                expected=_("a valid voucher"),
                actual=line.voucher_code[:60],
                detail={**base, "reason": voucher},
            )
            continue
        totals[voucher.code] = totals.get(voucher.code, 0) + line.amount_cents
        matched += _compare_line(
            sink, line, voucher, claims.get(line.invoice_number), start, end, base
        )
    for code, total in totals.items():
        voucher = vouchers[code]
        assert isinstance(voucher, Voucher)  # noqa: S101  (only known vouchers are totalled)
        if total > voucher.cap_cents:
            sink.add(
                D.STATEMENT_OVER_CAP,
                voucher.code,
                expected=voucher.cap_cents,
                actual=total,
                detail={"voucher": voucher.pk, "currency": voucher.currency},
            )
    in_month = 0
    month_claims = (
        Claim.objects.filter(
            provider=provider,
            status=Claim.Status.ACCEPTED,
            created_at__gte=start,
            created_at__lt=end,
        )
        .order_by("pk")
        .values_list(
            "pk",
            "invoice_number",
            "provider_reference",
            "subsidy_cents",
            "voucher_code_submitted",
            "created_at",
        )
    )
    for pk, invoice, reference, subsidy, code, created in month_claims.iterator(chunk_size=BATCH):
        in_month += 1
        if invoice not in seen:
            sink.add(
                D.CLAIM_NOT_IN_STATEMENT,
                invoice,
                expected=subsidy,
                actual=_("not listed"),
                detail={
                    "claim": pk,
                    "reference": reference,
                    "voucher_code": code,
                    "accepted_at": created.isoformat(),
                },
            )
    _finish(
        run,
        sink,
        {
            "lines": len(lines),
            "matched": matched,
            "claims_in_month": in_month,
            "month": f"{first:%Y-%m}",
            "vouchers": len(totals),
        },
    )
    return run


def _claims_by_invoice(provider: Provider, invoices: set[str]) -> dict[str, Claim]:
    """The provider's accepted or reversed claim for each invoice (at most one each: the
    database's claim_invoice_once constraint)."""
    found: dict[str, Claim] = {}
    ordered = sorted(invoices)
    for start in range(0, len(ordered), 1000):
        qs = Claim.objects.filter(
            provider=provider,
            invoice_number__in=ordered[start : start + 1000],
            status__in=[Claim.Status.ACCEPTED, Claim.Status.REVERSED],
        ).only(
            "pk",
            "invoice_number",
            "provider_reference",
            "status",
            "subsidy_cents",
            "currency",
            "voucher_id",
            "created_at",
        )
        found.update({c.invoice_number: c for c in qs})
    return found


def _vouchers_by_code(lines: list[StatementLine]) -> dict[str, Voucher | str]:
    """Each written code -> its voucher, or the reason it is not one."""
    result: dict[str, Voucher | str] = {}
    canonical: dict[str, list[str]] = {}
    for written in {ln.voucher_code for ln in lines}:
        try:
            canonical.setdefault(codes.normalize(written), []).append(written)
        except codes.VoucherCodeError as exc:
            result[written] = (
                "bad_check_character" if exc.code == "voucher_code_check_character" else exc.code
            )
    ordered = sorted(canonical)
    for start in range(0, len(ordered), 1000):
        qs = Voucher.objects.filter(code__in=ordered[start : start + 1000]).only(
            "pk", "code", "cap_cents", "currency"
        )
        for voucher in qs:
            for written in canonical.pop(voucher.code):
                result[written] = voucher
    for written_codes in canonical.values():
        for written in written_codes:
            result[written] = "not_found"
    return result


def _compare_line(
    sink: _Sink,
    line: StatementLine,
    voucher: Voucher,
    claim: Claim | None,
    start: datetime,
    end: datetime,
    base: dict[str, Any],
) -> int:
    """Record one known-voucher line; returns 1 if it matched."""
    reason = ""
    if claim is None:
        reason = "no_claim"
    elif claim.status == Claim.Status.REVERSED:
        reason = "reversed"
    elif not start <= claim.created_at < end:
        reason = "other_month"
    elif claim.voucher_id != voucher.pk:
        reason = "other_voucher"
    if reason:
        detail = {**base, "reason": reason}
        if claim is not None:
            detail |= {
                "claim": claim.pk,
                "claim_month": f"{timezone.localtime(claim.created_at):%Y-%m}",
            }
        sink.add(
            D.STATEMENT_MISSING,
            line.invoice_number,
            expected=_("an accepted claim"),
            actual=line.amount_cents,
            detail=detail,
        )
        return 0
    assert claim is not None  # noqa: S101  (reason is set when there is no claim)
    detail = {
        **base,
        "claim": claim.pk,
        "claim_reference": claim.provider_reference,
        "currency": claim.currency,
    }
    if claim.subsidy_cents != line.amount_cents or claim.currency != line.currency:
        sink.add(
            D.STATEMENT_AMOUNT,
            line.invoice_number,
            expected=claim.subsidy_cents,
            actual=line.amount_cents,
            detail={**detail, "statement_currency": line.currency},
        )
        return 0
    sink.add(
        D.STATEMENT_MATCHED,
        line.invoice_number,
        expected=claim.subsidy_cents,
        actual=line.amount_cents,
        detail=detail,
        is_problem=False,
    )
    return 1


# --- Alerts -----------------------------------------------------------------------------------


@transaction.atomic
def alert_acknowledge(*, actor: Any, alert_id: int) -> Alert:
    """Mark an alert seen. Acknowledging an acknowledged alert is a no-op."""
    if not recon_allows(actor, ReconAction.ACKNOWLEDGE_ALERT):
        raise NotAllowedError(_("Only approvers, administrators and finance acknowledge alerts."))
    alert = Alert.objects.select_for_update().get(pk=alert_id)  # two officers clicking at once
    if alert.acknowledged_at is not None:
        return alert
    alert.acknowledged_by = actor
    alert.acknowledged_at = timezone.now()
    alert.save(update_fields=["acknowledged_by", "acknowledged_at", "updated_at"])
    audit_record(
        actor=actor,
        action=ALERT_ACKNOWLEDGED,
        target=alert,
        data={"kind": alert.kind, "message": alert.message, "run": alert.run_id},
    )
    return alert


def open_alerts(qs: QuerySet[Alert]) -> QuerySet[Alert]:
    return qs.filter(Q(acknowledged_at__isnull=True))
