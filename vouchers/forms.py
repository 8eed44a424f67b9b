from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import MoneyField
from vouchers.models import Recommendation, RubricCriterion


class ConflictForm(forms.Form):
    has_conflict = forms.TypedChoiceField(
        label=_("Do you have a conflict of interest with this organization or its people?"),
        choices=[
            ("no", _("No: I have no financial, family, employment or other tie to them")),
            ("yes", _("Yes: I have a tie that could affect, or seem to affect, my judgement")),
        ],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        help_text=_(
            "Your answer is final and recorded. With a conflict you will not see the "
            "application's content."
        ),
    )
    note = forms.CharField(
        label=_("Details"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class OverrideForm(forms.Form):
    justification = forms.CharField(
        label=_("Why can this rule be set aside?"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("At least 20 characters. Kept in the audit trail with your name."),
    )


class ReviewerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.full_name} ({obj.email})" if obj.full_name else obj.email


class AssignForm(forms.Form):
    reviewer: forms.ModelChoiceField = ReviewerChoiceField(
        label=_("Reviewer"), queryset=None, empty_label=_("Choose a reviewer")
    )

    def __init__(self, *args: Any, reviewers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reviewer"].queryset = reviewers  # type: ignore[attr-defined]


class ReviewForm(forms.Form):
    recommendation = forms.ChoiceField(
        label=_("Recommendation"), choices=Recommendation.choices, widget=forms.RadioSelect
    )
    recommended_amount_cents = MoneyField(
        label=_("Recommended amount"),
        required=False,
        help_text=_("Only if you recommend a smaller amount than requested."),
    )
    comments = forms.CharField(
        label=_("Assessment"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Strengths, weaknesses and the reasons for your scores."),
    )

    def __init__(self, *args: Any, criteria: list[RubricCriterion], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        scored = {}
        for criterion in criteria:
            scored[f"score_{criterion.code}"] = forms.IntegerField(
                label=f"{criterion.display_name} (0–{criterion.max_score}, ×{criterion.weight})",
                min_value=0,
                max_value=criterion.max_score,
                help_text=criterion.guidance,
                widget=forms.NumberInput(
                    attrs={"min": 0, "max": criterion.max_score, "class": "score"}
                ),
            )
        self.fields = {**scored, **self.fields}

    def scores(self) -> dict[str, int]:
        return {c.code: self.cleaned_data[f"score_{c.code}"] for c in self.criteria}


class ApproveForm(forms.Form):
    amount_cents = MoneyField(label=_("Amount to award"))
    reasons = forms.CharField(
        label=_("Note for the applicant"),
        max_length=10_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class RejectForm(forms.Form):
    reasons = forms.CharField(
        label=_("Reasons the applicant will read"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("At least 20 characters. Be specific and courteous."),
    )


class ReissueForm(forms.Form):
    reason = forms.CharField(
        label=_("What does the corrected letter change?"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class VerifyForm(forms.Form):
    file = forms.FileField(label=_("The letter you received (PDF)"), required=False)
    sha256 = forms.RegexField(
        label=_("…or its SHA-256 fingerprint"),
        regex=r"^\s*[0-9a-fA-F]{64}\s*$",
        required=False,
        max_length=80,
    )
