from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import MoneyField
from vouchers import codes


class ClaimForm(forms.Form):
    voucher_code = forms.CharField(
        label=_("Voucher code"),
        max_length=40,
        help_text=_("As printed on the award letter, e.g. CV-7K3M-9QXD-2HBA-F."),
        widget=forms.TextInput(
            attrs={"class": "code", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    reference = forms.CharField(
        label=_("Your reference"),
        max_length=100,
        help_text=_(
            "Unique for each claim. Sending the same claim again with the same reference is safe."
        ),
    )
    invoice_number = forms.CharField(label=_("Invoice number"), max_length=100)
    invoice_total_cents = MoneyField(label=_("Invoice total actually paid"))
    currency = forms.RegexField(
        label=_("Currency"), regex=r"^[A-Z]{3}$", max_length=3, initial="CNY"
    )
    service_period_start = forms.DateField(
        label=_("Service from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    service_period_end = forms.DateField(
        label=_("Service to"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_voucher_code(self) -> str:
        """A typo is caught here, before a claim is recorded (the API records it as refused)."""
        try:
            return codes.normalize(self.cleaned_data["voucher_code"])
        except codes.VoucherCodeError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("service_period_start"), data.get("service_period_end")
        if start and end and end < start:
            self.add_error("service_period_end", _("The period ends before it starts."))
        return data


class LineForm(forms.Form):
    chip_origin = forms.ChoiceField(
        label=_("Chips"),
        choices=[
            ("", "—"),
            ("domestic", _("Domestic AI chips")),
            ("foreign", _("Foreign AI chips")),
        ],
        required=False,
    )
    gpu_hours = forms.DecimalField(
        label=_("GPU-hours"), max_digits=14, decimal_places=3, min_value=0, required=False
    )
    amount_cents = MoneyField(label=_("Amount"), required=False)
    description = forms.CharField(label=_("Description"), max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        filled = [
            data.get(f) not in (None, "") for f in ("chip_origin", "gpu_hours", "amount_cents")
        ]
        if any(filled) and not all(filled):
            raise forms.ValidationError(
                _("Fill in the chips, the GPU-hours and the amount of this line.")
            )
        return data

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return not any(
            data.get(f) not in (None, "") for f in ("chip_origin", "gpu_hours", "amount_cents")
        )


LineFormSet = forms.formset_factory(LineForm, extra=4, max_num=50, validate_max=True)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("At least 10 characters; kept in the ledger and the audit trail."),
    )


class ClawbackForm(ReasonForm):
    amount_cents = MoneyField(label=_("Amount to claw back"))
