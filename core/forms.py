"""Form pieces shared by every app: money input and mapping DomainError onto a form."""

from typing import Any

from django import forms

from core.exceptions import DomainError
from core.money import MoneyError, cents_to_str, parse_cents


class MoneyField(forms.CharField):
    """A text input for amounts in currency units; cleans to integer cents."""

    def __init__(self, *, allow_zero: bool = False, currency: str = "", **kwargs: Any) -> None:
        self.allow_zero = allow_zero
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off", "class": "money"})
        if currency:
            self.widget.attrs["data-currency"] = currency

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return cents_to_str(value)
        return value

    def clean(self, value: Any) -> int | None:
        value = super().clean(value)
        if value in (None, ""):
            return None
        try:
            return parse_cents(value, allow_zero=self.allow_zero)
        except MoneyError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc


def add_domain_error(
    form: forms.BaseForm, error: DomainError, field_map: dict[str, str] | None = None
) -> None:
    """Show a service's DomainError on the form: next to its fields where it names them."""
    field_map = field_map or {}
    placed = False
    for name, messages in error.fields.items():
        target = field_map.get(name, name)
        if target in form.fields:
            for message in messages:
                form.add_error(target, message)
            placed = True
    if not placed:
        form.add_error(None, error.message)
