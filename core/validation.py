from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models

from core.exceptions import DomainError


def full_clean_or_raise(instance: models.Model, *, exclude: Iterable[str] | None = None) -> None:
    """Run the model's validation and turn its errors into one DomainError with field messages."""
    try:
        instance.full_clean(exclude=list(exclude or []))
    except ValidationError as exc:
        fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        first_field, first = next(iter(fields.items()))
        label = first_field if first_field != "__all__" else ""
        message = f"{label}: {first[0]}" if label else first[0]
        raise DomainError(message, code="validation_error", fields=fields) from exc
