"""Reads about programs."""

from django.db.models import QuerySet
from django.utils import timezone

from vouchers.models import Program


def program_list_open() -> QuerySet[Program]:
    """Published programs accepting applications right now, closing soonest first."""
    now = timezone.now()
    return Program.objects.filter(is_published=True, opens_at__lte=now, closes_at__gt=now).order_by(
        "closes_at"
    )


def program_list_public() -> QuerySet[Program]:
    """Every published program: open, upcoming and closed (for the public list)."""
    return Program.objects.filter(is_published=True).order_by("-opens_at")
