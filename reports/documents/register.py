"""The voucher register, rendered by reports.register (chunks, merged, bounded memory)."""

from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from reports.documents import (
    Progress,
    Rendered,
    ReportMeta,
    load_or_gone,
)
from vouchers.models import Program


def voucher_register(meta: ReportMeta, progress: Progress) -> Rendered:
    from reports.register import render_voucher_register  # heavy: WeasyPrint, pypdf

    program_id = meta.parameters.get("program")
    code = "all"
    if program_id is not None:
        code = load_or_gone(Program, program_id, _("program")).code
    result = render_voucher_register(
        program_id=program_id,
        workers=int(getattr(settings, "REPORT_REGISTER_WORKERS", 2)),
        progress=progress,
        language=meta.language,
        anchor=meta.anchor,
    )
    pdf = result.pdf if isinstance(result.pdf, bytes) else Path(result.pdf)
    return Rendered(
        pdf=pdf,
        csv=result.csv,
        stem=f"voucher-register-{code}",
        pages=result.pages,
        rows=result.vouchers,
        totals={
            k if k.endswith("_cents") else f"{k}_cents": int(v) for k, v in result.totals.items()
        },
        counts={"vouchers": result.vouchers},
    )
