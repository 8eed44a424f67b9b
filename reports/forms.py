"""One small form per kind of report, each turning what people pick into the service's
parameters. The service checks them again (and the API sends the same parameters)."""

from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.models import AuditAction
from disbursement.models import ReconciliationRun
from reports.models import Report
from vouchers import codes
from vouchers.models import Program, Voucher

K = Report.Kind


class ReportForm(forms.Form):
    kind: str = ""
    language = forms.ChoiceField(label=_("Language of the report"), choices=settings.LANGUAGES)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", self.kind)
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["language"].initial = getattr(user, "preferred_language", "en")
        self.order_fields([name for name in self.fields if name != "language"] + ["language"])

    def parameters(self) -> dict[str, Any]:
        """The service's parameters, from cleaned data."""
        return {"language": self.cleaned_data["language"]}


class ProgramSummaryForm(ReportForm):
    kind = K.PROGRAM_SUMMARY
    program = forms.ModelChoiceField(label=_("Program"), queryset=Program.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["program"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101  (declared above)
        field.queryset = Program.objects.order_by("-opens_at", "code")

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "program": self.cleaned_data["program"].pk}


class VoucherRegisterForm(ProgramSummaryForm):
    kind = K.VOUCHER_REGISTER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["program"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101
        field.required = False
        field.empty_label = _("All programs")

    def parameters(self) -> dict[str, Any]:
        program = self.cleaned_data.get("program")
        return {
            "language": self.cleaned_data["language"],
            "program": program.pk if program else None,
        }


class VoucherStatementForm(ReportForm):
    """Applicants pick one of their vouchers; officers type any voucher's code."""

    kind = K.VOUCHER_STATEMENT
    voucher = forms.CharField(
        label=_("Voucher code"),
        max_length=40,
        help_text=_("For example CV-7K3M-9QXD-2HBA-F."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if getattr(self.user, "is_applicant", False):
            from vouchers.selectors import voucher_list_for_viewer

            self.fields["voucher"] = forms.ModelChoiceField(
                label=_("Voucher"),
                queryset=voucher_list_for_viewer(viewer=self.user).order_by("-created_at"),
                empty_label=None,
            )

    def clean_voucher(self) -> Any:
        value = self.cleaned_data["voucher"]
        if isinstance(value, Voucher):
            return value
        try:
            code = codes.normalize(value)
        except codes.VoucherCodeError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc
        voucher = Voucher.objects.filter(code=code).first()
        if voucher is None:
            raise forms.ValidationError(_("No voucher has this code."), code="no_such_voucher")
        return voucher

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "voucher": self.cleaned_data["voucher"].pk}


class ReconciliationForm(ReportForm):
    kind = K.RECONCILIATION
    run = forms.ModelChoiceField(
        label=_("Reconciliation run"), queryset=ReconciliationRun.objects.none()
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["run"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101
        field.queryset = (
            ReconciliationRun.objects.exclude(status=ReconciliationRun.Status.RUNNING)
            .select_related("provider")
            .order_by("-created_at", "-id")[:200]
        )
        field.label_from_instance = _run_label  # type: ignore[method-assign,assignment]

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "run": self.cleaned_data["run"].pk}


def _run_label(run: ReconciliationRun) -> str:
    when = timezone.localtime(run.created_at).strftime("%Y-%m-%d %H:%M")
    provider = f" · {run.provider.short_name}" if run.provider_id and run.provider else ""
    return f"#{run.pk} · {run.get_kind_display()}{provider} · {when} · {run.get_status_display()}"


class AuditExtractForm(ReportForm):
    kind = K.AUDIT_EXTRACT
    date_from = forms.DateField(
        label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        label=_("To (inclusive)"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    stream = forms.CharField(
        label=_("Stream"),
        required=False,
        max_length=120,
        help_text=_('One object ("vouchers.voucher:42") or a kind ("vouchers.voucher").'),
    )
    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        choices=[("", _("All actions")), *AuditAction.choices],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["date_from"].initial = today.replace(day=1)
        self.fields["date_to"].initial = today

    def parameters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            **super().parameters(),
            "date_from": data["date_from"].isoformat(),
            "date_to": data["date_to"].isoformat(),
            "stream": data.get("stream") or "",
            "action": data.get("action") or "",
        }


FORMS: dict[str, type[ReportForm]] = {
    K.PROGRAM_SUMMARY: ProgramSummaryForm,
    K.VOUCHER_STATEMENT: VoucherStatementForm,
    K.VOUCHER_REGISTER: VoucherRegisterForm,
    K.RECONCILIATION: ReconciliationForm,
    K.AUDIT_EXTRACT: AuditExtractForm,
}
