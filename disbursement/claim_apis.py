"""REST API for claims (providers) and voucher money (officers): the same services as the pages."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.utils import user_of
from core.api.fields import MoneyField
from core.api.pagination import PageNumberPagination
from core.api.serializers import StrictInputSerializer
from core.exceptions import NotAllowedError
from disbursement.models import Claim, LedgerEntry
from disbursement.policies import MoneyAction, allows, claims_visible_to, provider_of, require
from disbursement.services import claims as claim_services
from disbursement.services import vouchers as money_services
from vouchers.policies import VoucherAction
from vouchers.selectors import voucher_get_for


class LineInputSerializer(StrictInputSerializer):
    chip_origin = serializers.ChoiceField(choices=["domestic", "foreign"])
    gpu_hours = serializers.DecimalField(max_digits=14, decimal_places=3, min_value=0)
    amount = MoneyField(source="amount_cents")
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )


class ClaimInputSerializer(StrictInputSerializer):
    voucher_code = serializers.CharField(max_length=40)
    reference = serializers.CharField(
        max_length=100, help_text="Your own reference: the idempotency key."
    )
    invoice_number = serializers.CharField(max_length=100)
    invoice_total = MoneyField(source="invoice_total_cents")
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    service_period_start = serializers.DateField()
    service_period_end = serializers.DateField()
    lines = LineInputSerializer(many=True, allow_empty=False, max_length=500)  # type: ignore[call-arg]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["service_period_end"] < attrs["service_period_start"]:
            raise serializers.ValidationError(
                {"service_period_end": ["The period ends before it starts."]}
            )
        return attrs

    def to_claim_input(self) -> claim_services.ClaimInput:
        data = self.validated_data
        return claim_services.ClaimInput(
            voucher_code=data["voucher_code"],
            provider_reference=data["reference"],
            invoice_number=data["invoice_number"],
            invoice_total_cents=data["invoice_total_cents"],
            currency=data["currency"],
            service_period_start=data["service_period_start"],
            service_period_end=data["service_period_end"],
            lines=[
                claim_services.LineInput(
                    chip_origin=ln["chip_origin"],
                    gpu_hours=ln["gpu_hours"],
                    amount_cents=ln["amount_cents"],
                    description=ln["description"],
                )
                for ln in data["lines"]
            ],
        )


class ClaimLineOutput(serializers.Serializer):
    position = serializers.IntegerField()
    description = serializers.CharField()
    chip_origin = serializers.CharField()
    gpu_hours = serializers.DecimalField(max_digits=14, decimal_places=3)
    amount = MoneyField(source="amount_cents")
    rate_bps = serializers.IntegerField()
    subsidy = MoneyField(source="subsidy_cents", allow_zero=True)


class ClaimOutput(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField(source="provider_reference")
    provider = serializers.CharField(source="provider.short_name")
    voucher_code = serializers.CharField(source="voucher_code_submitted")
    invoice_number = serializers.CharField()
    invoice_total = MoneyField(source="invoice_total_cents", allow_zero=True)
    currency = serializers.CharField()
    service_period_start = serializers.DateField()
    service_period_end = serializers.DateField()
    status = serializers.CharField()
    rejection_code = serializers.CharField()
    rejection_message = serializers.CharField()
    eligible = MoneyField(source="eligible_cents", allow_zero=True)
    subsidy = MoneyField(source="subsidy_cents", allow_zero=True)
    billed_to_startup = MoneyField(source="billed_to_startup_cents", allow_zero=True)
    calculation = serializers.JSONField()
    lines = ClaimLineOutput(many=True)
    payout = serializers.CharField(source="payout.reference", allow_null=True, default=None)
    created_at = serializers.DateTimeField()


def _claim_response(claim: Claim, *, replayed: bool) -> Response:
    """Accepted claims answer 201, rejected ones 422; a replay answers exactly as the first time."""
    code = status.HTTP_201_CREATED if claim.status != Claim.Status.REJECTED else 422
    response = Response(ClaimOutput(claim).data, status=code)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


class ClaimListCreateApi(APIView):
    pagination_class = PageNumberPagination  # also tells the schema the list is paginated

    @extend_schema(
        operation_id="claims_list",
        parameters=[OpenApiParameter("status", enum=Claim.Status.values)],
        responses=ClaimOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        """Claims the caller may see: a provider its own, an applicant those on its vouchers."""
        qs = claims_visible_to(user_of(request)).select_related("payout").prefetch_related("lines")
        if request.query_params.get("status") in Claim.Status.values:
            qs = qs.filter(status=request.query_params["status"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs.order_by("-created_at", "-id"), request, view=self)
        return paginator.get_paginated_response(ClaimOutput(page, many=True).data)

    @extend_schema(
        operation_id="claims_create",
        request=ClaimInputSerializer,
        responses={
            201: ClaimOutput,
            422: OpenApiResponse(ClaimOutput, description="Rejected, with the reason"),
            409: OpenApiResponse(description="The reference was used for a different claim"),
        },
    )
    def post(self, request: Request) -> Response:
        """Claim the subsidy for one invoice. Retrying with the same reference and body is safe."""
        user = user_of(request)
        provider = provider_of(user)
        if provider is None or not allows(user, MoneyAction.SUBMIT_CLAIM):
            raise NotAllowedError("Only staff of an approved compute provider submit claims.")
        data = ClaimInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = claim_services.claim_submit(
            actor=user, provider=provider, data=data.to_claim_input()
        )
        claim = (
            Claim.objects.select_related("provider", "payout")
            .prefetch_related("lines")
            .get(pk=outcome.claim.pk)
        )
        return _claim_response(claim, replayed=outcome.replayed)


class ClaimDetailApi(APIView):
    @extend_schema(operation_id="claims_retrieve", responses=ClaimOutput)
    def get(self, request: Request, claim_id: int) -> Response:
        claim = get_object_or_404(
            claims_visible_to(user_of(request)).prefetch_related("lines"), pk=claim_id
        )
        return Response(ClaimOutput(claim).data)


class ReasonInput(StrictInputSerializer):
    reason = serializers.CharField(max_length=1000)


class ClaimReverseApi(APIView):
    @extend_schema(operation_id="claims_reverse", request=ReasonInput, responses=ClaimOutput)
    def post(self, request: Request, claim_id: int) -> Response:
        user = user_of(request)
        claim = get_object_or_404(claims_visible_to(user), pk=claim_id)
        require(user, MoneyAction.REVERSE_CLAIM)  # the permission first, then the input
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        claim = money_services.claim_reverse(
            actor=user, claim_id=claim.pk, reason=data.validated_data["reason"]
        )
        return Response(ClaimOutput(Claim.objects.prefetch_related("lines").get(pk=claim.pk)).data)


class LedgerEntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    spent_delta = serializers.SerializerMethodField()
    cap_delta = serializers.SerializerMethodField()
    spent_after = MoneyField(source="spent_after_cents", allow_zero=True)
    cap_after = MoneyField(source="cap_after_cents", allow_zero=True)
    claim = serializers.IntegerField(source="claim_id", allow_null=True)
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_spent_delta(self, entry: LedgerEntry) -> str:
        return _signed(entry.spent_delta_cents)

    def get_cap_delta(self, entry: LedgerEntry) -> str:
        return _signed(entry.cap_delta_cents)


def _signed(cents: int) -> str:
    from core.money import cents_to_str

    return ("-" if cents < 0 else "") + cents_to_str(abs(cents))


class VoucherLedgerApi(APIView):
    pagination_class = PageNumberPagination  # also tells the schema the list is paginated

    @extend_schema(operation_id="vouchers_ledger", responses=LedgerEntryOutput(many=True))
    def get(self, request: Request, voucher_id: int) -> Response:
        """Every movement of money on the voucher, oldest first (paginated); spent is their sum."""
        voucher = voucher_get_for(
            viewer=user_of(request), voucher_id=voucher_id, action=VoucherAction.VIEW
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(voucher.ledger.order_by("id"), request, view=self)
        return paginator.get_paginated_response(LedgerEntryOutput(page, many=True).data)


class ClawbackInput(StrictInputSerializer):
    amount = MoneyField(source="amount_cents")
    reason = serializers.CharField(max_length=1000)


class VoucherClawbackApi(APIView):
    @extend_schema(
        operation_id="vouchers_clawback", request=ClawbackInput, responses={201: LedgerEntryOutput}
    )
    def post(self, request: Request, voucher_id: int) -> Response:
        user = user_of(request)
        voucher = voucher_get_for(viewer=user, voucher_id=voucher_id, action=VoucherAction.VIEW)
        require(user, MoneyAction.CLAWBACK)  # the permission first, then the input
        data = ClawbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        entry = money_services.voucher_clawback(
            actor=user, voucher_id=voucher.pk, **data.validated_data
        )
        return Response(LedgerEntryOutput(entry).data, status=status.HTTP_201_CREATED)


class VoucherStatusOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()


class VoucherSuspendApi(APIView):
    @extend_schema(
        operation_id="vouchers_suspend", request=ReasonInput, responses=VoucherStatusOutput
    )
    def post(self, request: Request, voucher_id: int) -> Response:
        user = user_of(request)
        voucher = voucher_get_for(viewer=user, voucher_id=voucher_id, action=VoucherAction.VIEW)
        require(user, MoneyAction.SUSPEND)  # the permission first, then the input
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        voucher = money_services.voucher_suspend(
            actor=user, voucher_id=voucher.pk, **data.validated_data
        )
        return Response({"id": voucher.pk, "status": voucher.status})


class VoucherReinstateApi(APIView):
    @extend_schema(
        operation_id="vouchers_reinstate", request=ReasonInput, responses=VoucherStatusOutput
    )
    def post(self, request: Request, voucher_id: int) -> Response:
        user = user_of(request)
        voucher = voucher_get_for(viewer=user, voucher_id=voucher_id, action=VoucherAction.VIEW)
        require(user, MoneyAction.REINSTATE)  # the permission first, then the input
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        voucher = money_services.voucher_reinstate(
            actor=user, voucher_id=voucher.pk, **data.validated_data
        )
        return Response({"id": voucher.pk, "status": voucher.status})
