"""The program summary: budget, committed, spent, remaining, applications, time to decision,
spending by provider and by chip origin, with charts."""

from typing import Any

from django.utils.translation import gettext as _

from core.money import format_money
from reports import datasets
from reports.charts import bar_chart_svg, budget_use_svg
from reports.documents import (
    Progress,
    Rendered,
    ReportMeta,
    csv_bytes,
    load_or_gone,
    money_cell,
    pdf_with_csv,
    text_cell,
)
from vouchers.models import Program


def program_summary(meta: ReportMeta, progress: Progress) -> Rendered:
    progress(0, 3)
    program = load_or_gone(Program, meta.parameters["program"], _("program"))
    data = datasets.program_summary(program)
    progress(1, 3)
    cur = program.currency
    rows: list[list[Any]] = []
    totals = [
        ("budget", _("Budget"), data.budget_cents),
        ("committed", _("Committed (ledger)"), data.committed_cents),
        ("spent", _("Spent (ledger)"), data.spent_cents),
        ("remaining", _("Remaining (not committed)"), data.remaining_cents),
        ("committed_unspent", _("Committed, not yet spent"), data.unspent_committed_cents),
    ]
    rows += [["totals", key, label, "", money_cell(v), cur, ""] for key, label, v in totals]
    rows += [["applications", s.key, s.label, s.count, "", "", ""] for s in data.applications]
    rows += [
        ["vouchers", s.key, s.label, s.count, money_cell(s.amount_cents), cur, ""]
        for s in data.vouchers
    ]
    days = [
        ("decided", _("Decided applications"), data.decided, None),
        ("median_days", _("Median days to decision"), "", data.median_days),
        ("p90_days", _("90th percentile days to decision"), "", data.p90_days),
    ]
    rows += [
        ["decision_time", key, label, n, "", "", "" if d is None else f"{d:.2f}"]
        for key, label, n, d in days
    ]
    rows += [
        ["by_provider", s.key, text_cell(s.label), s.count, money_cell(s.amount_cents), cur, ""]
        for s in data.by_provider
    ]
    rows += [
        ["by_chip_origin", s.key, s.label, s.count, money_cell(s.amount_cents), cur, ""]
        for s in data.by_chip
    ]
    header = ["section", "key", "label", "count", "amount_cents", "currency", "days"]
    data_csv = csv_bytes(header, rows)

    def bars(shares: list[datasets.Share], money: bool) -> list[tuple[str, int, str]]:
        if money:
            return [(s.label, s.amount_cents, format_money(s.amount_cents, cur)) for s in shares]
        return [(s.label, s.count, f"{s.count:,}") for s in shares]

    charts = {
        "budget": budget_use_svg(
            budget_cents=data.budget_cents,
            committed_cents=data.committed_cents,
            spent_cents=data.spent_cents,
            currency=cur,
            title=_("Budget use"),
            labels=(_("Spent"), _("Committed, not yet spent"), _("Not committed")),
        ),
        "applications": bar_chart_svg(
            items=bars([s for s in data.applications if s.count], False),
            title=_("Applications by status"),
        ),
        "providers": bar_chart_svg(
            items=bars(data.by_provider, True), title=_("Spending by provider")
        ),
        "chips": bar_chart_svg(items=bars(data.by_chip, True), title=_("Spending by chip origin")),
    }
    stem = f"program-summary-{program.code}"
    title = _("Program summary: %(code)s") % {"code": program.code}
    context = {"data": data, "program": program, "cur": cur, "totals": totals, "charts": charts}
    pdf = pdf_with_csv("reports/pdf/program_summary.html", context, meta, title, data_csv, stem)
    progress(3, 3)
    return Rendered(
        pdf=pdf,
        csv=data_csv,
        stem=stem,
        rows=len(rows),
        totals={f"{key}_cents": value for key, _label, value in totals},
        counts={"applications": data.applications_total, "decided": data.decided},
    )
