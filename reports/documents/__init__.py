"""Every report as a PDF/A-3b with its data embedded as CSV, and as that same CSV.

One module per kind (program, statement, register, reconciliation, audit_extract) reads its dataset
(reports/datasets.py), writes the CSV, lays out the HTML template (templates/reports/pdf/) and
hands both to reports.pdf.render_pdf, which embeds the CSV in the PDF; this module holds what
they share and `render_report`, which picks one. The voucher register is rendered by
reports.register. No database writes.
"""

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.exceptions import DomainError
from reports import datasets
from reports.models import Report
from reports.pdf import Attachment, render_pdf

Progress = Callable[[int, int], None]
K = Report.Kind


@dataclass(frozen=True)
class ReportMeta:
    """What every report prints about itself."""

    reference: str
    kind: str
    requested_by: str
    language: str
    parameters: dict[str, Any]
    generated_at: datetime = field(default_factory=timezone.now)
    # The audit checkpoint sealed for this report: {"seq", "hash", "sealed_at", "events",
    # "streams"}. Printed on it, so that a copy kept outside proves the trail as it was then.
    anchor: dict[str, Any] | None = None


@dataclass
class Rendered:
    pdf: bytes | Path
    csv: bytes
    stem: str
    pages: int = 0
    rows: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def pdf_max_rows() -> int:
    return int(getattr(settings, "REPORT_PDF_MAX_ROWS", 5_000))


def text_cell(value: Any) -> str:
    """Text a spreadsheet must not run as a formula (names and references come from users)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def money_cell(cents: int) -> int:
    """Amounts in the CSVs are integer cents (as in the ledger and the voucher register): exact,
    and summed by any tool without rounding. The PDF prints them in currency units."""
    return int(cents)


def csv_bytes(header: list[str], rows: Iterable[list[Any]]) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheets read Chinese names; CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def pdf_with_csv(
    template: str, context: dict[str, Any], meta: ReportMeta, title: str, data: bytes, stem: str
) -> bytes:
    html = render_to_string(
        template,
        {
            **context,
            "meta": meta,
            "title": title,
            "kind_label": Report.Kind(meta.kind).label,
            "generated": datasets.as_local(meta.generated_at),
            "csv_name": f"{stem}.csv",
            "tz": timezone.get_current_timezone_name(),
        },
    )
    attachment = Attachment(
        name=f"{stem}.csv",
        data=data,
        mime="text/csv",
        description=_("The data of this report (CSV, UTF-8)"),
    )
    return render_pdf(
        html,
        base_url=str(settings.BASE_DIR),
        attachments=[attachment],
        title=title,
        lang=meta.language,
    )


def _pages(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def render_report(meta: ReportMeta, *, progress: Progress) -> Rendered:
    """Render the report `meta` describes, in its language. Raises ReportRenderError (or a
    DomainError when what it is about has gone) with a message for the requester."""
    from reports.documents import audit_extract, program, reconciliation, register, statement

    renderers: dict[str, Callable[[ReportMeta, Progress], Rendered]] = {
        K.PROGRAM_SUMMARY: program.program_summary,
        K.VOUCHER_STATEMENT: statement.voucher_statement,
        K.VOUCHER_REGISTER: register.voucher_register,
        K.RECONCILIATION: reconciliation.reconciliation,
        K.AUDIT_EXTRACT: audit_extract.audit_extract,
    }
    with translation.override(meta.language):
        rendered = renderers[meta.kind](meta, progress)
    if isinstance(rendered.pdf, bytes) and not rendered.pages:
        rendered.pages = _pages(rendered.pdf)
    return rendered


def load_or_gone(model: Any, pk: Any, what: str) -> Any:
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise DomainError(_("The %(what)s of this report no longer exists.") % {"what": what})
    return obj
