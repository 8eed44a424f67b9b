"""The audit extract: events in a period, with the result of verifying the whole chain."""

from typing import Any

from django.utils.translation import gettext as _

from audit.selectors import audit_chain_verify
from audit.services import canonical_json
from reports import datasets
from reports.documents import (
    Progress,
    Rendered,
    ReportMeta,
    csv_bytes,
    pdf_max_rows,
    pdf_with_csv,
    text_cell,
)


def audit_extract(meta: ReportMeta, progress: Progress) -> Rendered:
    params = meta.parameters
    progress(0, 4)
    header = [
        "id",
        "occurred_at",
        "stream",
        "seq",
        "actor",
        "action",
        "target_type",
        "target_id",
        "target_label",
        "ip",
        "request_id",
        "data",
        "prev_hash",
        "hash",
    ]
    rows: list[list[Any]] = []
    events: list[Any] = []
    limit = pdf_max_rows()
    for event in datasets.audit_events(params):
        if len(events) < limit:
            events.append(event)
        rows.append(
            [
                event.pk,
                event.occurred_at.isoformat(),
                text_cell(event.stream),
                event.seq,
                text_cell(event.actor_label),
                event.action,
                event.target_type,
                text_cell(event.target_id),
                text_cell(event.target_label),
                event.ip or "",
                text_cell(event.request_id),
                text_cell(canonical_json(event.data)),
                event.prev_hash,
                event.hash,
            ]
        )
    progress(1, 4)
    problems = audit_chain_verify()
    stream = params.get("stream") or ""
    in_scope = [
        p
        for p in problems
        if not stream
        or p.stream == stream
        or (":" not in stream and p.stream.startswith(stream + ":"))
    ]
    progress(2, 4)
    data_csv = csv_bytes(header, rows)
    stem = f"audit-extract-{params['date_from']}-{params['date_to']}"
    title = _("Audit extract %(start)s to %(end)s") % {
        "start": params["date_from"],
        "end": params["date_to"],
    }
    context = {
        "events": events,
        "hidden": len(rows) - len(events),
        "total": len(rows),
        "problems": problems[:200],
        "problem_count": len(problems),
        "in_scope": len(in_scope),
        "params": params,
    }
    pdf = pdf_with_csv("reports/pdf/audit_extract.html", context, meta, title, data_csv, stem)
    progress(4, 4)
    return Rendered(
        pdf=pdf,
        csv=data_csv,
        stem=stem,
        rows=len(rows),
        counts={
            "events": len(rows),
            "chain_problems": len(problems),
            "chain_problems_in_scope": len(in_scope),
        },
    )
