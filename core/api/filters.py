"""Filters whose values the database can always accept (a bad value is a 400, never a 500)."""

from datetime import datetime, timedelta
from typing import Any

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField

MAX_OFFSET = timedelta(hours=14)  # the widest UTC offset in use (Line Islands)


class BoundedIsoDateTimeField(IsoDateTimeField):
    default_error_messages = {
        "out_of_range": _("Use a date between 1900 and 9999 with a UTC offset of at most ±14:00."),
    }

    def clean(self, value: Any) -> datetime | None:
        result = super().clean(value)
        if result is None:
            return None
        offset = result.utcoffset()
        if not 1900 <= result.year <= 9999 or (offset is not None and abs(offset) > MAX_OFFSET):
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        return result


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField
