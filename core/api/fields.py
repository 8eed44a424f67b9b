"""Serializer fields for money: decimal strings in, cents inside, decimal strings out."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.parsers import JsonNumber
from core.money import MoneyError, cents_to_str, parse_cents


@extend_schema_field(
    {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$", "example": "150000.00"}
)
class MoneyField(serializers.Field):
    """Accepts "150000.00" or 150000 (whole units); returns cents. Outputs "150000.00"."""

    default_error_messages = {"invalid": "Enter a valid amount."}

    def __init__(self, *, allow_zero: bool = False, **kwargs: Any) -> None:
        self.allow_zero = allow_zero
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, JsonNumber):
            data = str(data)
        try:
            return parse_cents(data, allow_zero=self.allow_zero)
        except MoneyError as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from exc

    def to_representation(self, value: int) -> str:
        return cents_to_str(value)
