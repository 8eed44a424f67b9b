"""Filtering application lists: one FilterSet for the API and the officers' page."""

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from applicants.models import Application, Organization
from core.api.filters import BoundedIsoDateTimeFilter

BIGINT_MAX = 2**63 - 1


def application_search(queryset: QuerySet[Application], term: str) -> QuerySet[Application]:
    """Exact reference (any case), or a fragment of the title or of the organization's name.

    Written as a union of three index-served lookups (the unique reference, the trigram index
    on titles, the organization name's trigram index then the organization foreign key),
    because one OR across them makes PostgreSQL scan every application.
    """
    term = term.strip()
    if not term:
        return queryset
    unordered = Application.objects.order_by()  # no ORDER BY inside a compound statement
    matching = (
        unordered.filter(reference=term.upper())
        .values("pk")
        .union(
            unordered.filter(title__icontains=term).values("pk"),
            unordered.filter(
                organization__in=Organization.objects.filter(legal_name__icontains=term)
            ).values("pk"),
            all=True,
        )
    )
    return queryset.filter(pk__in=matching)


class ApplicationFilter(django_filters.FilterSet):
    # distinct=False: no join multiplies rows here, and DISTINCT forces a sort of every match.
    status = django_filters.MultipleChoiceFilter(choices=Application.Status.choices, distinct=False)
    program = django_filters.NumberFilter(
        field_name="program_id", min_value=1, max_value=BIGINT_MAX
    )
    organization = django_filters.NumberFilter(
        field_name="organization_id", min_value=1, max_value=BIGINT_MAX
    )
    search = django_filters.CharFilter(method="filter_search", max_length=100, label=_("Search"))
    queue = django_filters.ChoiceFilter(
        method="filter_queue",
        choices=[
            ("screening", "screening"),
            ("review", "review"),
            ("decision", "decision"),
            ("assigned", "assigned"),
        ],
        help_text="An officer's work queue: screening exceptions, awaiting review, awaiting "
        "decision, or the caller's own review assignments.",
    )
    submitted_after = BoundedIsoDateTimeFilter(field_name="submitted_at", lookup_expr="gte")
    submitted_before = BoundedIsoDateTimeFilter(field_name="submitted_at", lookup_expr="lt")
    ordering = django_filters.OrderingFilter(
        fields=(
            ("submitted_at", "submitted_at"),
            ("created_at", "created_at"),
            ("updated_at", "updated_at"),
            ("requested_amount_cents", "requested_amount"),
            ("reference", "reference"),
        )
    )

    class Meta:
        model = Application
        fields: list[str] = []

    def filter_queue(
        self, queryset: QuerySet[Application], name: str, value: str
    ) -> QuerySet[Application]:
        from vouchers.selectors import in_queue  # vouchers imports applicants

        return in_queue(queryset, viewer=self.request.user, name=value)  # type: ignore[union-attr]

    def filter_search(
        self, queryset: QuerySet[Application], name: str, value: str
    ) -> QuerySet[Application]:
        return application_search(queryset, value)
