"""The audit search filters: one form for the auditor's page and GET /api/v1/audit-events/."""

import re
from datetime import date
from typing import Any

from django import forms
from django.apps import apps
from django.utils.translation import gettext_lazy as _

from audit.models import AuditAction

BIGINT_MAX = 2**63 - 1
# Days whose start and next day both exist in every time zone (no overflow at year 1 or 9999).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)
STREAM = re.compile(r"^(anonymous|[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*:[0-9]{1,19})$")


def target_type_choices() -> list[tuple[str, Any]]:
    """Every model can be an event's target: the admin site records changes to any of them."""
    models = apps.get_models()
    choices = sorted(
        (m._meta.label_lower, f"{m._meta.verbose_name} ({m._meta.label_lower})") for m in models
    )
    return [("", _("Any"))] + choices


def action_choices() -> list[tuple[str, Any]]:
    return [("", _("Any")), *AuditAction.choices]


class AuditSearchForm(forms.Form):
    actor = forms.CharField(
        label=_("Actor's email contains"), max_length=254, required=False, strip=True
    )
    action = forms.ChoiceField(label=_("Action"), choices=action_choices, required=False)
    target_type = forms.ChoiceField(
        label=_("Target type"), choices=target_type_choices, required=False
    )
    target_id = forms.CharField(
        label=_("Target id"),
        max_length=19,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 8}),
    )
    target = forms.CharField(
        label=_("Target name contains"),
        max_length=200,
        required=False,
        help_text=_("A reference, code, name or email as shown in the Target column."),
    )
    stream = forms.CharField(
        label=_("Stream"),
        max_length=120,
        required=False,
        help_text=_('One hash chain, e.g. "vouchers.voucher:7".'),
    )
    date_from = forms.DateField(
        label=_("From (day)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To (day, included)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_target_id(self) -> str:
        value: str = self.cleaned_data.get("target_id") or ""
        if not value:
            return ""
        if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= BIGINT_MAX:
            raise forms.ValidationError(
                _("A target id is a whole number, such as 42."), code="invalid_id"
            )
        return str(int(value))

    def clean_stream(self) -> str:
        value: str = self.cleaned_data.get("stream") or ""
        if value and not STREAM.match(value):
            raise forms.ValidationError(
                _('Write a stream as "app.model:id", e.g. "vouchers.voucher:7".'),
                code="invalid_stream",
            )
        return value

    def _clean_day(self, name: str) -> date | None:
        value: date | None = self.cleaned_data.get(name)
        if value is not None and not FIRST_DAY <= value <= LAST_DAY:
            raise forms.ValidationError(
                _("Enter a day between %(first)s and %(last)s.")
                % {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
                code="out_of_range",
            )
        return value

    def clean_date_from(self) -> date | None:
        return self._clean_day("date_from")

    def clean_date_to(self) -> date | None:
        return self._clean_day("date_to")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("target_id") and not data.get("target_type"):
            self.add_error(
                "target_type",
                forms.ValidationError(
                    _("Choose the type of the target whose id you gave."), code="type_required"
                ),
            )
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and last < first:
            self.add_error(
                "date_to",
                forms.ValidationError(
                    _("The last day comes before the first."), code="range_reversed"
                ),
            )
        return data

    def filters(self) -> dict[str, Any]:
        """The cleaned values as keyword arguments of audit_event_search (valid forms only)."""
        data = self.cleaned_data
        return {
            "actor": data.get("actor") or "",
            "action": data.get("action") or "",
            "target_type": data.get("target_type") or "",
            "target_id": data.get("target_id") or "",
            "target": data.get("target") or "",
            "stream": data.get("stream") or "",
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }
