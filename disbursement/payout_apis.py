"""REST API for payouts: finance prepares, approves, marks paid and exports; auditors and admins
read; a provider's staff read their own provider's payouts. The same services as the pages."""

from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.utils import user_of
from core.api.fields import MoneyField
from core.api.pagination import PageNumberPagination
from core.api.serializers import StrictInputSerializer
from disbursement.models import Claim, Payout
from disbursement.payout_policies import (
    BIGINT_MAX,
    PayoutAction,
    payout_get_for,
    payout_require,
    payouts_visible_to,
)
from disbursement.services import payouts as services

MAX_CLAIMS_PER_REQUEST = 10_000


class PayoutFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Payout.Status.choices)
    provider = django_filters.NumberFilter(
        field_name="provider_id", min_value=1, max_value=BIGINT_MAX
    )

    class Meta:
        model = Payout
        fields: list[str] = []


class PayoutClaimOutput(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField(source="provider_reference")
    invoice_number = serializers.CharField()
    voucher_code = serializers.CharField(source="voucher.code", default="")
    service_period_start = serializers.DateField()
    service_period_end = serializers.DateField()
    subsidy = MoneyField(source="subsidy_cents", allow_zero=True)
    currency = serializers.CharField()


class PayoutOutput(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    provider = serializers.IntegerField(source="provider_id")
    provider_name = serializers.CharField(source="provider.short_name")
    status = serializers.CharField()
    currency = serializers.CharField()
    total = MoneyField(source="total_cents")
    claim_count = serializers.IntegerField()
    created_by = serializers.CharField(source="created_by.full_name")
    created_at = serializers.DateTimeField()
    approved_by = serializers.CharField(
        source="approved_by.full_name", allow_null=True, default=None
    )
    approved_at = serializers.DateTimeField(allow_null=True)
    paid_by = serializers.CharField(source="paid_by.full_name", allow_null=True, default=None)
    paid_at = serializers.DateTimeField(allow_null=True)
    bank_reference = serializers.CharField()


class PayoutDetailOutput(PayoutOutput):
    claims = PayoutClaimOutput(many=True)


def _with_claims(qs: QuerySet[Payout]) -> QuerySet[Payout]:
    return qs.prefetch_related(
        Prefetch("claims", queryset=Claim.objects.select_related("voucher").order_by("pk"))
    )


def _detail(payout_id: int) -> dict[str, Any]:
    payout = _with_claims(
        Payout.objects.select_related("provider", "created_by", "approved_by", "paid_by")
    ).get(pk=payout_id)
    return PayoutDetailOutput(payout).data


class PayoutCreateInput(StrictInputSerializer):
    provider = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)
    claims = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=BIGINT_MAX),
        required=False,
        allow_empty=False,
        max_length=MAX_CLAIMS_PER_REQUEST,
        help_text="The claim ids to pay. Leave out to pay every accepted, unpaid claim of the "
        "provider.",
    )


class PayoutListCreateApi(GenericAPIView):
    """List the payouts the caller may see (filtered, paginated), or prepare one (finance)."""

    filter_backends = [DjangoFilterBackend]
    filterset_class = PayoutFilter
    pagination_class = PageNumberPagination
    serializer_class = PayoutOutput

    def get_queryset(self) -> QuerySet[Payout]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no real user
            return Payout.objects.none()
        return payouts_visible_to(user_of(self.request)).order_by("-created_at", "-id")

    @extend_schema(operation_id="payouts_list", responses=PayoutOutput(many=True))
    def get(self, request: Request) -> Response:
        payout_require(viewer=user_of(request), action=PayoutAction.LIST)
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(PayoutOutput(page, many=True).data)

    @extend_schema(
        operation_id="payouts_create",
        request=PayoutCreateInput,
        responses={201: PayoutDetailOutput},
    )
    def post(self, request: Request) -> Response:
        """Prepare a payout of a provider's accepted, unpaid claims (all, or the listed ones)."""
        user = user_of(request)
        payout_require(viewer=user, action=PayoutAction.CREATE)
        data = PayoutCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        payout = services.payout_create(
            actor=user,
            provider_id=data.validated_data["provider"],
            claim_ids=data.validated_data.get("claims"),
        )
        return Response(_detail(payout.pk), status=status.HTTP_201_CREATED)


class PayoutDetailApi(APIView):
    @extend_schema(operation_id="payouts_retrieve", responses=PayoutDetailOutput)
    def get(self, request: Request, payout_id: int) -> Response:
        """The payout with its claims."""
        payout = payout_get_for(
            viewer=user_of(request), payout_id=payout_id, action=PayoutAction.VIEW
        )
        return Response(_detail(payout.pk))


class PayoutApproveApi(APIView):
    @extend_schema(operation_id="payouts_approve", request=None, responses=PayoutDetailOutput)
    def post(self, request: Request, payout_id: int) -> Response:
        """Approve a prepared payout (four eyes: not by whoever prepared it). Idempotent."""
        user = user_of(request)
        payout = payout_get_for(viewer=user, payout_id=payout_id, action=PayoutAction.APPROVE)
        payout = services.payout_approve(actor=user, payout_id=payout.pk)
        return Response(_detail(payout.pk))


class PaidInput(StrictInputSerializer):
    bank_reference = serializers.CharField(max_length=200, trim_whitespace=False)


class PayoutPaidApi(APIView):
    @extend_schema(
        operation_id="payouts_mark_paid", request=PaidInput, responses=PayoutDetailOutput
    )
    def post(self, request: Request, payout_id: int) -> Response:
        """Record the bank transfer of an approved payout. Repeating with the same bank
        reference is a no-op; a different one is a 409."""
        user = user_of(request)
        payout = payout_get_for(viewer=user, payout_id=payout_id, action=PayoutAction.MARK_PAID)
        data = PaidInput(data=request.data)
        data.is_valid(raise_exception=True)
        payout = services.payout_mark_paid(
            actor=user, payout_id=payout.pk, bank_reference=data.validated_data["bank_reference"]
        )
        return Response(_detail(payout.pk))


class PayoutExportApi(APIView):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # Errors are JSON whatever the client accepts; the file itself bypasses the renderers.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="payouts_export_csv",
        responses={
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.BINARY,
                description="The bank file: one line per claim and a total line (UTF-8, BOM)",
            ),
            409: OpenApiResponse(description="Not approved yet (`not_approved`)."),
        },
    )
    def get(self, request: Request, payout_id: int) -> HttpResponse:
        """The bank file of an approved or paid payout. Every download is audited."""
        user = user_of(request)
        payout = payout_get_for(viewer=user, payout_id=payout_id, action=PayoutAction.EXPORT)
        filename, content = services.payout_export_csv(actor=user, payout_id=payout.pk)
        response = HttpResponse(content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "no-store"
        return response
