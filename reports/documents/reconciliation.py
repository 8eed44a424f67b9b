"""The reconciliation report: one stored run and everything it found."""

from typing import Any

from django.utils.translation import gettext as _

from audit.services import canonical_json
from disbursement.models import ReconciliationRun
from reports import datasets
from reports.documents import (
    Progress,
    Rendered,
    ReportMeta,
    csv_bytes,
    load_or_gone,
    pdf_max_rows,
    pdf_with_csv,
    text_cell,
)


def reconciliation(meta: ReportMeta, progress: Progress) -> Rendered:
    progress(0, 3)
    run = load_or_gone(ReconciliationRun, meta.parameters["run"], _("reconciliation run"))
    data = datasets.reconciliation(run)
    labels = dict(datasets.Discrepancy.Kind.choices)
    header = [
        "run",
        "finding",
        "kind",
        "description",
        "is_problem",
        "subject",
        "expected",
        "actual",
        "detail",
    ]
    rows: list[list[Any]] = []
    shown: list[Any] = []
    limit = pdf_max_rows()
    for finding in datasets.findings(run):
        rows.append(
            [
                run.pk,
                finding.pk,
                finding.kind,
                labels.get(finding.kind, finding.kind),
                "yes" if finding.is_problem else "no",
                text_cell(finding.subject),
                text_cell(finding.expected),
                text_cell(finding.actual),
                text_cell(_detail(finding.detail)),
            ]
        )
        if len(shown) < limit:
            shown.append(finding)
    progress(1, 3)
    data_csv = csv_bytes(header, rows)
    stem = f"reconciliation-{run.pk}"
    title = _("Reconciliation report: run #%(n)d") % {"n": run.pk}
    context = {
        "run": run,
        "data": data,
        "findings": shown,
        "hidden": len(rows) - len(shown),
        "checked": [
            (k, v)
            for k, v in run.checked.items()
            if isinstance(v, int | str) and not isinstance(v, bool)
        ],
    }
    pdf = pdf_with_csv("reports/pdf/reconciliation.html", context, meta, title, data_csv, stem)
    progress(3, 3)
    return Rendered(
        pdf=pdf,
        csv=data_csv,
        stem=stem,
        rows=len(rows),
        counts={
            "findings": data.stored,
            "problems": data.problems_stored,
            "discrepancies": run.discrepancy_count,
        },
    )


def _detail(detail: Any) -> str:
    return canonical_json(detail) if detail else ""
