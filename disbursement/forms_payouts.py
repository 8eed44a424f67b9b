"""Forms of the finance pages: choosing the claims of a payout, and recording the payment."""

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from disbursement.services.payouts import BANK_REFERENCE_MAX


class PayoutPrepareForm(forms.Form):
    """The claims shown on the page, all ticked: the payout holds exactly what was confirmed."""

    claims = forms.TypedMultipleChoiceField(
        label=_("Claims to pay"),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one claim to pay.")},
    )

    def __init__(self, *args: Any, claim_ids: list[int], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"claims": claim_ids})
        super().__init__(*args, **kwargs)
        field = cast(forms.TypedMultipleChoiceField, self.fields["claims"])
        field.choices = [(pk, str(pk)) for pk in claim_ids]


class MarkPaidForm(forms.Form):
    bank_reference = forms.CharField(
        label=_("Bank reference"),
        max_length=BANK_REFERENCE_MAX,
        help_text=_("The reference the bank gave the transfer, as on the bank statement."),
    )
