"""The voucher statement: one voucher's ledger with the running balance."""

from django.utils.translation import gettext as _

from reports import datasets
from reports.documents import (
    Progress,
    Rendered,
    ReportMeta,
    csv_bytes,
    load_or_gone,
    money_cell,
    pdf_max_rows,
    pdf_with_csv,
    text_cell,
)
from vouchers.models import Voucher


def voucher_statement(meta: ReportMeta, progress: Progress) -> Rendered:
    progress(0, 3)
    voucher = load_or_gone(Voucher, meta.parameters["voucher"], _("voucher"))
    data = datasets.voucher_statement(voucher)
    progress(1, 3)
    cur = voucher.currency
    kinds = dict(datasets.LedgerEntry.Kind.choices)
    header = [
        "voucher_code",
        "entry",
        "date",
        "kind",
        "provider",
        "claim_reference",
        "invoice_number",
        "reason",
        "cap_change_cents",
        "spent_change_cents",
        "cap_after_cents",
        "spent_after_cents",
        "remaining_after_cents",
        "currency",
    ]
    rows = []
    for row in data.rows:
        entry, claim = row.entry, row.entry.claim
        rows.append(
            [
                voucher.code,
                entry.pk,
                datasets.as_local(entry.created_at),
                entry.kind,
                text_cell(claim.provider.short_name if claim else ""),
                text_cell(claim.provider_reference if claim else ""),
                text_cell(claim.invoice_number if claim else ""),
                text_cell(entry.reason),
                money_cell(entry.cap_delta_cents),
                money_cell(entry.spent_delta_cents),
                money_cell(row.cap_cents),
                money_cell(row.spent_cents),
                money_cell(row.remaining_cents),
                cur,
            ]
        )
    data_csv = csv_bytes(header, rows)
    limit = pdf_max_rows()
    totals = {
        "cap_cents": data.cap_cents,
        "spent_cents": data.spent_cents,
        "remaining_cents": data.remaining_cents,
        **{f"{kind}_cents": value for kind, value in data.spent_by_kind.items()},
    }
    stem = f"voucher-statement-{voucher.code}"
    title = _("Voucher statement: %(code)s") % {"code": voucher.code}
    context = {
        "voucher": voucher,
        "data": data,
        "cur": cur,
        "rows": data.rows[:limit],
        "hidden": max(0, len(data.rows) - limit),
        "kinds": kinds,
        "cap_by_kind": [(kinds[k], v) for k, v in data.cap_by_kind.items()],
        "spent_by_kind": [(kinds[k], v) for k, v in data.spent_by_kind.items()],
    }
    pdf = pdf_with_csv("reports/pdf/voucher_statement.html", context, meta, title, data_csv, stem)
    progress(3, 3)
    return Rendered(
        pdf=pdf,
        csv=data_csv,
        stem=stem,
        rows=len(rows),
        totals=totals,
        counts={"entries": len(rows), "mismatched": data.mismatched},
    )
