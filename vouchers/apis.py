from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import MoneyField
from vouchers.selectors import program_list_public


class ProviderRef(serializers.Serializer):
    id = serializers.IntegerField()
    short_name = serializers.CharField()
    legal_name = serializers.CharField()


class ProgramOutput(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    slug = serializers.CharField()
    name = serializers.CharField()
    name_zh = serializers.CharField()
    summary = serializers.CharField()
    region = serializers.CharField()
    currency = serializers.CharField()
    budget = MoneyField(source="budget_cents", allow_zero=True)
    committed = MoneyField(source="committed_cents", allow_zero=True)
    award_floor = MoneyField(source="award_floor_cents")
    award_ceiling = MoneyField(source="award_ceiling_cents")
    rate_standard_bps = serializers.IntegerField()
    rate_domestic_bps = serializers.IntegerField()
    allowed_regions = serializers.ListField(child=serializers.CharField())
    max_company_age_years = serializers.IntegerField(allow_null=True)
    max_headcount = serializers.IntegerField(allow_null=True)
    max_annual_revenue = MoneyField(
        source="max_annual_revenue_cents", allow_null=True, allow_zero=True
    )
    requires_startup = serializers.BooleanField()
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    voucher_validity_days = serializers.IntegerField()
    is_open = serializers.BooleanField()
    approved_providers = ProviderRef(many=True)


class ProgramListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="programs_list",
        parameters=[OpenApiParameter("state", enum=["open", "upcoming", "closed"], required=False)],
        responses=ProgramOutput(many=True),
        auth=[],
    )
    def get(self, request: Request) -> Response:
        qs = program_list_public().prefetch_related("approved_providers")
        state = request.query_params.get("state")
        now = timezone.now()
        if state == "open":
            qs = qs.filter(opens_at__lte=now, closes_at__gt=now)
        elif state == "upcoming":
            qs = qs.filter(opens_at__gt=now)
        elif state == "closed":
            qs = qs.filter(closes_at__lte=now)
        elif state:
            raise ValidationError({"state": ["Use open, upcoming or closed."]})
        return Response(ProgramOutput(qs, many=True).data)


class ProgramDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="programs_retrieve", responses=ProgramOutput, auth=[])
    def get(self, request: Request, program_id: int) -> Response:
        program = get_object_or_404(
            program_list_public().prefetch_related("approved_providers"), pk=program_id
        )
        return Response(ProgramOutput(program).data)
