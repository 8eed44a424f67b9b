from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applicants.models import Application, Document, Organization
from applicants.rules import NEEDED_TO_SUBMIT
from core.forms import MoneyField
from core.money import format_money
from core.regions import REGIONS
from vouchers.models import Program

CURRENCIES = [("CNY", "CNY"), ("USD", "USD"), ("HKD", "HKD"), ("EUR", "EUR")]


class OrganizationForm(forms.Form):
    legal_name = forms.CharField(
        label=_("Legal name"),
        max_length=200,
        help_text=_("Exactly as on the business licence, e.g. 上海示例智能科技有限公司."),
    )
    registration_scheme = forms.ChoiceField(
        label=_("Registration type"),
        choices=Organization.Scheme.choices,
        initial=Organization.Scheme.CN_USCC,
        widget=forms.RadioSelect,
    )
    registration_number = forms.CharField(
        label=_("Registration number"),
        max_length=60,
        help_text=_(
            "For companies registered in mainland China: the 18-character unified social "
            "credit code (统一社会信用代码) on the business licence."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "class": "code"}
        ),
    )
    region = forms.ChoiceField(label=_("Registered in"), choices=REGIONS)
    address = forms.CharField(label=_("Registered address"), max_length=300, required=False)
    website = forms.URLField(
        label=_("Website"), max_length=200, required=False, assume_scheme="https"
    )
    incorporated_on = forms.DateField(
        label=_("Date of incorporation"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Programs for startups count the company's age from this date."),
    )
    headcount = forms.IntegerField(
        label=_("Employees"),
        min_value=0,
        max_value=10_000_000,
        help_text=_("Full-time equivalents today, including founders."),
    )
    annual_revenue_cents = MoneyField(
        label=_("Revenue in the last financial year"),
        allow_zero=True,
        required=False,
        help_text=_("0 if the company has no revenue yet."),
    )
    revenue_currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCIES, initial="CNY")

    def clean_incorporated_on(self) -> date:
        value: date = self.cleaned_data["incorporated_on"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("The date of incorporation cannot be in the future."))
        return value


class OrganizationEditForm(OrganizationForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["registration_scheme"]
        del self.fields["registration_number"]


class InviteForm(forms.Form):
    email = forms.EmailField(
        label=_("Colleague's email"),
        max_length=254,
        help_text=_("They will get a link to join this organization."),
    )


class ChooseOrganizationForm(forms.Form):
    organization = forms.ModelChoiceField(
        label=_("Apply as"), queryset=Organization.objects.none(), empty_label=None
    )

    def __init__(self, *args: Any, organizations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations  # type: ignore[attr-defined]


class DraftStepForm(forms.BaseForm):
    """A wizard step: every field may be left empty in a draft, but the ones a submission needs
    are marked (field.needed_to_submit) so the page can say so."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.needed_to_submit = name in NEEDED_TO_SUBMIT  # type: ignore[attr-defined]


class ProjectForm(DraftStepForm, forms.ModelForm):
    class Meta:
        model = Application
        fields = ["title", "summary", "description"]
        labels = {
            "title": _("Project title"),
            "summary": _("Summary"),
            "description": _("Project description"),
        }
        help_texts = {
            "title": _(
                "A short name reviewers will remember, e.g. “Legal-domain LLM fine-tuning”."
            ),
            "summary": _(
                "One paragraph: what you will build and why it matters (at most 1,000 characters)."
            ),
            "description": _(
                "The model, the data, the team, milestones and the outcome you expect "
                "(at most 10,000 characters)."
            ),
        }
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 4}),
            "description": forms.Textarea(attrs={"rows": 12}),
        }


class ComputeForm(DraftStepForm, forms.ModelForm):
    class Meta:
        model = Application
        fields = ["gpu_hours", "gpu_model", "chip_origin", "intended_provider", "compute_plan"]
        labels = {
            "gpu_hours": _("GPU-hours needed"),
            "gpu_model": _("Accelerator model"),
            "chip_origin": _("Chips"),
            "intended_provider": _("Compute provider"),
            "compute_plan": _("How the compute will be used"),
        }
        help_texts = {
            "gpu_hours": _(
                "Card-hours over the whole project, e.g. 64 cards × 30 days × 24 h = 46,080."
            ),
            "gpu_model": _("e.g. Ascend 910B, H800. Optional."),
            "chip_origin": _("Compute on domestic AI chips is subsidized at a higher rate."),
            "intended_provider": _(
                "Only providers approved for this program can redeem the voucher."
            ),
            "compute_plan": _("Training, fine-tuning or inference; the schedule; why this amount."),
        }
        widgets = {"compute_plan": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["intended_provider"]
        field.queryset = program.approved_providers.filter(is_active=True)  # type: ignore[attr-defined]
        field.empty_label = _("Choose a provider")  # type: ignore[attr-defined]
        chip_choices = [("", _("Choose")), *Application.ChipPlan.choices]
        self.fields["chip_origin"].choices = chip_choices  # type: ignore[attr-defined]
        self.fields["gpu_hours"].widget.attrs.update({"min": 1, "inputmode": "numeric"})
        self.fields["gpu_hours"].max_value = 10**12  # type: ignore[attr-defined]


class FundingForm(DraftStepForm, forms.Form):
    requested_amount_cents = MoneyField(label=_("Amount requested"), required=False)

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["requested_amount_cents"]
        field.help_text = _(
            "In %(currency)s. This program awards between %(floor)s and %(ceiling)s. "
            "Use digits, with at most two decimals, e.g. 150000.00."
        ) % {
            "currency": program.currency,
            "floor": format_money(program.award_floor_cents, program.currency),
            "ceiling": format_money(program.award_ceiling_cents, program.currency),
        }
        field.widget.attrs["data-currency"] = program.currency


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Document type"), choices=Document.Kind.choices)
    file = forms.FileField(
        label=_("File"),
        help_text=_("PDF, PNG or JPEG, up to 10 MB."),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"}
        ),
    )


class DeclarationsForm(DraftStepForm, forms.ModelForm):
    class Meta:
        model = Application
        fields = [
            "declares_truthful",
            "declares_no_double_funding",
            "declares_no_provider_affiliation",
            "declared_by_name",
        ]
        labels = {
            "declares_truthful": _(
                "I declare that the information in this application is true and complete, "
                "and I understand that false statements lead to the recovery of funds."
            ),
            "declares_no_double_funding": _(
                "The compute in this application is not funded by any other public "
                "program, and will not be."
            ),
            "declares_no_provider_affiliation": _(
                "Our organization is not affiliated with the chosen compute "
                "provider (no common ownership or control)."
            ),
            "declared_by_name": _("Signed by (your full name)"),
        }


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=_("Why are you withdrawing?"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReturnForm(forms.Form):
    message = forms.CharField(
        label=_("What should the applicant change?"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("The applicant sees this message and can edit and resubmit."),
    )
