"""What each report says, read from the database: plain values, money in integer cents.

Every total a report prints is a sum over the ledger (or over the rows it lists), computed
here once; the documents only format them. Reads only.
"""

import math
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Case, Count, F, Min, Q, Sum, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from applicants.models import Application
from audit.models import AuditEvent
from disbursement.models import ChipOrigin, ClaimLine, Discrepancy, LedgerEntry, ReconciliationRun
from reports.params import audit_events_in
from vouchers.models import Program, Voucher

L = LedgerEntry.Kind


@dataclass(frozen=True)
class Share:
    """One row of a breakdown: a label, how many, how much (cents)."""

    key: str
    label: str
    count: int
    amount_cents: int


@dataclass
class ProgramSummary:
    program: Program
    budget_cents: int
    committed_cents: int  # sum of the ledger's committed movements
    spent_cents: int  # sum of the ledger's spent movements
    stored_committed_cents: int  # the program row's own counter, shown beside the ledger's
    vouchers_spent_cents: int  # sum of the vouchers' spent counters
    applications: list[Share]
    vouchers: list[Share]
    decided: int
    median_days: float | None
    p90_days: float | None
    by_provider: list[Share]
    by_chip: list[Share]

    @property
    def remaining_cents(self) -> int:
        """Budget not yet committed to any voucher."""
        return self.budget_cents - self.committed_cents

    @property
    def unspent_committed_cents(self) -> int:
        return self.committed_cents - self.spent_cents

    @property
    def applications_total(self) -> int:
        return sum(s.count for s in self.applications)


def _sum(qs: Any, column: str) -> int:
    return int(qs.aggregate(total=Coalesce(Sum(column), 0))["total"])


def nearest_rank(values: list[float], pct: int) -> float | None:
    """The pct-th percentile by the nearest-rank method (a value that occurred, never an
    interpolation): the smallest value with at least pct % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def decision_days(program: Program) -> list[float]:
    """Days from an application's first submission to its decision, for decided ones."""
    rows = (
        Application.objects.filter(program=program, decided_at__isnull=False)
        .annotate(first=Min("versions__submitted_at"))
        .values_list("first", "submitted_at", "decided_at")
    )
    days = []
    for first, submitted, decided in rows.iterator(chunk_size=2000):
        start = first or submitted
        if start is not None and decided is not None and decided >= start:
            days.append((decided - start).total_seconds() / 86_400)
    return days


def program_summary(program: Program) -> ProgramSummary:
    ledger = LedgerEntry.objects.filter(program=program)
    totals = ledger.aggregate(
        committed=Coalesce(Sum("committed_delta_cents"), 0),
        spent=Coalesce(Sum("spent_delta_cents"), 0),
    )
    status_labels = dict(Application.Status.choices)
    app_counts = dict(
        Application.objects.filter(program=program)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    applications = [
        Share(status, str(status_labels[status]), app_counts.get(status, 0), 0)
        for status in Application.Status.values
    ]
    voucher_rows = (
        Voucher.objects.filter(program=program)
        .values("status")
        .annotate(n=Count("id"), cap=Sum("cap_cents"))
        .order_by()
    )
    by_status: dict[str, dict[str, Any]] = {row["status"]: dict(row) for row in voucher_rows}
    voucher_labels = dict(Voucher.Status.choices)
    vouchers = [
        Share(
            status,
            str(voucher_labels[status]),
            by_status.get(status, {}).get("n", 0),
            int(by_status.get(status, {}).get("cap") or 0),
        )
        for status in Voucher.Status.values
    ]
    days = decision_days(program)
    return ProgramSummary(
        program=program,
        budget_cents=program.budget_cents,
        committed_cents=int(totals["committed"]),
        spent_cents=int(totals["spent"]),
        stored_committed_cents=program.committed_cents,
        vouchers_spent_cents=_sum(Voucher.objects.filter(program=program), "spent_cents"),
        applications=applications,
        vouchers=vouchers,
        decided=len(days),
        median_days=statistics.median(days) if days else None,
        p90_days=nearest_rank(days, 90),
        by_provider=spending_by_provider(program, int(totals["spent"])),
        by_chip=spending_by_chip(program, int(totals["spent"])),
    )


def _without_claim(program: Program) -> tuple[int, int]:
    """Spending movements with no claim (clawbacks): how many, how much."""
    rows = LedgerEntry.objects.filter(program=program, claim__isnull=True).exclude(
        spent_delta_cents=0
    )
    agg = rows.aggregate(n=Count("id"), total=Coalesce(Sum("spent_delta_cents"), 0))
    return int(agg["n"]), int(agg["total"])


def spending_by_provider(program: Program, spent_cents: int) -> list[Share]:
    """Net spending (charges less reversals) per provider, from the ledger; clawbacks, which no
    provider made, on their own row. The rows add up to the ledger's spent."""
    rows = (
        LedgerEntry.objects.filter(program=program, claim__isnull=False)
        .values("claim__provider_id", "claim__provider__short_name")
        .annotate(n=Count("id", filter=Q(kind=L.CHARGE)), total=Sum("spent_delta_cents"))
        .order_by("-total", "claim__provider__short_name")
    )
    shares = [
        Share(str(r["claim__provider_id"]), r["claim__provider__short_name"], r["n"], r["total"])
        for r in rows
    ]
    count, clawed = _without_claim(program)
    if count:
        shares.append(Share("clawback", str(L.CLAWBACK.label), count, clawed))
    return _balanced(shares, spent_cents)


def spending_by_chip(program: Program, spent_cents: int) -> list[Share]:
    """Net spending per chip origin: each charge (and its reversal) split by its claim's usage
    lines, whose subsidies add up to the charge. Clawbacks have no chip origin."""
    signed = Case(
        When(claim__ledger__kind=L.CHARGE, then=F("subsidy_cents")),
        When(claim__ledger__kind=L.REVERSAL, then=-F("subsidy_cents")),
        default=0,
    )
    rows = (
        ClaimLine.objects.filter(claim__ledger__program=program)
        .values("chip_origin")
        .annotate(
            total=Sum(signed),
            n=Count("id", filter=Q(claim__ledger__kind=L.CHARGE)),
        )
        .order_by("chip_origin")
    )
    labels = dict(ChipOrigin.choices)
    found: dict[str, dict[str, Any]] = {r["chip_origin"]: dict(r) for r in rows}
    shares = [
        Share(
            origin,
            str(labels[origin]),
            found.get(origin, {}).get("n", 0),
            int(found.get(origin, {}).get("total") or 0),
        )
        for origin in ChipOrigin.values
    ]
    count, clawed = _without_claim(program)
    if count:
        shares.append(Share("clawback", str(L.CLAWBACK.label), count, clawed))
    return _balanced(shares, spent_cents)


def _balanced(shares: list[Share], spent_cents: int) -> list[Share]:
    """If the rows do not add up to the ledger (a claim whose lines differ from its charge:
    tampering, or data from before line subsidies were stored), say so on a row of its own
    rather than print a breakdown that disagrees with the total."""
    gap = spent_cents - sum(s.amount_cents for s in shares)
    if gap:
        shares.append(Share("unattributed", _("Not attributable (see reconciliation)"), 0, gap))
    return shares


@dataclass(frozen=True)
class StatementRow:
    entry: LedgerEntry
    cap_cents: int  # running, from the deltas
    spent_cents: int  # running, from the deltas
    matches_stored: bool  # the entry's own after-values agree with the running sums

    @property
    def remaining_cents(self) -> int:
        return self.cap_cents - self.spent_cents


@dataclass
class VoucherStatement:
    voucher: Voucher
    rows: list[StatementRow]
    spent_by_kind: dict[str, int] = field(default_factory=dict)  # spent movements per kind
    cap_by_kind: dict[str, int] = field(default_factory=dict)  # cap movements per kind
    cap_cents: int = 0  # sum of cap movements
    spent_cents: int = 0  # sum of spent movements

    @property
    def remaining_cents(self) -> int:
        return self.cap_cents - self.spent_cents

    @property
    def mismatched(self) -> int:
        return sum(1 for row in self.rows if not row.matches_stored)


def voucher_statement(voucher: Voucher) -> VoucherStatement:
    """The voucher's ledger in order, with the running cap, spent and remaining balance."""
    statement = VoucherStatement(voucher=voucher, rows=[])
    entries = (
        LedgerEntry.objects.filter(voucher=voucher)
        .select_related("claim__provider", "actor")
        .order_by("id")
    )
    cap = spent = 0
    for entry in entries.iterator(chunk_size=2000):
        cap += entry.cap_delta_cents
        spent += entry.spent_delta_cents
        for sums, delta in (
            (statement.spent_by_kind, entry.spent_delta_cents),
            (statement.cap_by_kind, entry.cap_delta_cents),
        ):
            if delta:
                sums[entry.kind] = sums.get(entry.kind, 0) + delta
        statement.rows.append(
            StatementRow(
                entry=entry,
                cap_cents=cap,
                spent_cents=spent,
                matches_stored=(entry.cap_after_cents, entry.spent_after_cents) == (cap, spent),
            )
        )
    statement.cap_cents, statement.spent_cents = cap, spent
    return statement


@dataclass
class ReconciliationData:
    run: ReconciliationRun
    counts: list[Share]  # per kind of finding: how many (count), how many are problems (amount)
    stored: int
    problems_stored: int


def reconciliation(run: ReconciliationRun) -> ReconciliationData:
    labels = dict(Discrepancy.Kind.choices)
    rows = (
        Discrepancy.objects.filter(run=run)
        .values("kind")
        .annotate(n=Count("id"), problems=Count("id", filter=Q(is_problem=True)))
        .order_by("kind")
    )
    counts = [
        Share(r["kind"], str(labels.get(r["kind"], r["kind"])), r["n"], r["problems"]) for r in rows
    ]
    return ReconciliationData(
        run=run,
        counts=counts,
        stored=sum(s.count for s in counts),
        problems_stored=sum(s.amount_cents for s in counts),
    )


def findings(run: ReconciliationRun) -> Iterator[Discrepancy]:
    return Discrepancy.objects.filter(run=run).order_by("id").iterator(chunk_size=2000)


def audit_events(parameters: dict[str, Any]) -> Iterator[AuditEvent]:
    """The extract's events in the order they happened."""
    return (
        audit_events_in(parameters)
        .select_related("actor")
        .order_by("occurred_at", "id")
        .iterator(chunk_size=2000)
    )


def as_local(value: datetime | None) -> str:
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
