"""What a complete application is, what a submission freezes, and how two versions differ.

Pure functions of an application and its documents: no writes, no requests.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applicants.models import Application, Document
from audit.services import canonical_json
from core.money import cents_to_str, format_money

# The wizard, in order: (slug, title). Each step saves the draft.
STEPS: list[tuple[str, Any]] = [
    ("project", gettext_lazy("Project")),
    ("compute", gettext_lazy("Compute plan")),
    ("funding", gettext_lazy("Funding")),
    ("documents", gettext_lazy("Documents")),
    ("declarations", gettext_lazy("Declarations")),
]
STEP_SLUGS = [slug for slug, _title in STEPS]

# Answers a draft may leave empty but a submission may not (see missing_items).
NEEDED_TO_SUBMIT = frozenset(
    {
        "title",
        "summary",
        "description",
        "gpu_hours",
        "chip_origin",
        "intended_provider",
        "requested_amount_cents",
        "declares_truthful",
        "declares_no_double_funding",
        "declares_no_provider_affiliation",
        "declared_by_name",
    }
)


@dataclass(frozen=True)
class Missing:
    step: str
    field: str
    message: str


def missing_items(application: Application, documents: Iterable[Document]) -> list[Missing]:
    """Everything that must be answered before the application can be submitted."""
    a = application
    out: list[Missing] = []

    def need(step: str, field: str, ok: bool, message: str) -> None:
        if not ok:
            out.append(Missing(step, field, message))

    need("project", "title", bool(a.title.strip()), _("Give the project a title."))
    need("project", "summary", bool(a.summary.strip()), _("Write a one-paragraph summary."))
    need("project", "description", bool(a.description.strip()), _("Describe the project."))
    need("compute", "gpu_hours", bool(a.gpu_hours), _("Say how many GPU-hours you need."))
    need("compute", "chip_origin", bool(a.chip_origin), _("Say which chips you will use."))
    need(
        "compute",
        "intended_provider",
        a.intended_provider_id is not None,
        _("Choose a compute provider."),
    )
    need(
        "funding",
        "requested_amount_cents",
        bool(a.requested_amount_cents),
        _("Enter the amount you request."),
    )
    kinds = {d.kind for d in documents}
    for kind in Document.REQUIRED_KINDS:
        need(
            "documents",
            "documents",
            kind in kinds,
            _("Upload your %(kind)s.") % {"kind": Document.Kind(kind).label.lower()},
        )
    need(
        "declarations",
        "declares_truthful",
        a.declares_truthful,
        _("Confirm that the information is true."),
    )
    need(
        "declarations",
        "declares_no_double_funding",
        a.declares_no_double_funding,
        _("Confirm that the compute is not funded twice."),
    )
    need(
        "declarations",
        "declares_no_provider_affiliation",
        a.declares_no_provider_affiliation,
        _("Confirm that you are not affiliated with the provider."),
    )
    need(
        "declarations",
        "declared_by_name",
        bool(a.declared_by_name.strip()),
        _("Sign with your full name."),
    )
    return out


def step_states(application: Application, documents: Iterable[Document]) -> dict[str, bool]:
    """{step slug: complete?} for the wizard's progress indicator."""
    missing_steps = {m.step for m in missing_items(application, list(documents))}
    return {slug: slug not in missing_steps for slug in STEP_SLUGS}


def snapshot(application: Application, documents: Iterable[Document]) -> dict[str, Any]:
    """The frozen content of a submission: what officers review and what a diff compares."""
    a, org = application, application.organization
    return {
        "program": {"code": a.program.code, "name": a.program.name},
        "organization": {
            "legal_name": org.legal_name,
            "registration_number": org.registration_number,
            "region": org.region,
            "incorporated_on": org.incorporated_on.isoformat(),
            "headcount": org.headcount,
            "annual_revenue": cents_to_str(org.annual_revenue_cents),
            "revenue_currency": org.revenue_currency,
        },
        "title": a.title,
        "summary": a.summary,
        "description": a.description,
        "gpu_hours": a.gpu_hours,
        "gpu_model": a.gpu_model,
        "chip_origin": a.chip_origin,
        "intended_provider": a.intended_provider.short_name if a.intended_provider else None,
        "intended_provider_id": a.intended_provider_id,
        "compute_plan": a.compute_plan,
        "requested_amount": cents_to_str(a.requested_amount_cents or 0),
        "currency": a.currency,
        "declarations": {
            "truthful": a.declares_truthful,
            "no_double_funding": a.declares_no_double_funding,
            "no_provider_affiliation": a.declares_no_provider_affiliation,
            "signed_by": a.declared_by_name,
        },
        "documents": [
            {
                "id": d.pk,
                "kind": d.kind,
                "name": d.original_name,
                "sha256": d.sha256,
                "size": d.size_bytes,
            }
            for d in documents
        ],
    }


def snapshot_sha256(data: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


DIFF_LABELS: dict[str, Any] = {
    "title": gettext_lazy("Project title"),
    "summary": gettext_lazy("Summary"),
    "description": gettext_lazy("Project description"),
    "gpu_hours": gettext_lazy("GPU-hours"),
    "gpu_model": gettext_lazy("Accelerator model"),
    "chip_origin": gettext_lazy("Chip origin"),
    "intended_provider": gettext_lazy("Compute provider"),
    "compute_plan": gettext_lazy("How the compute will be used"),
    "requested_amount": gettext_lazy("Requested amount"),
    "declarations": gettext_lazy("Declarations"),
    "documents": gettext_lazy("Documents"),
    "organization": gettext_lazy("Organization details"),
}


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    before: str
    after: str


def _show(key: str, value: Any, currency: str) -> str:
    if value is None or value == "":
        return "—"
    if key == "documents":
        kinds = dict(Document.Kind.choices)
        lines = [
            f"{d['name']} ({kinds.get(d['kind'], d['kind'])}, sha256 {d['sha256'][:12]}…)"
            for d in value
        ]
        return "\n".join(lines) or "—"
    if key == "requested_amount":
        return format_money(_cents(value), currency)
    if isinstance(value, dict):
        return "\n".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _cents(text: str) -> int:
    whole, _dot, frac = str(text).partition(".")
    return int(whole) * 100 + int((frac or "0").ljust(2, "0")[:2])


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """The answers that changed between two snapshots, in the order of DIFF_LABELS."""
    currency = after.get("currency", "")
    return [
        Change(
            key,
            str(label),
            _show(key, before.get(key), currency),
            _show(key, after.get(key), currency),
        )
        for key, label in DIFF_LABELS.items()
        if before.get(key) != after.get(key)
    ]
