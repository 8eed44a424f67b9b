from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.utils import user_of
from core.api.fields import MoneyField
from core.api.serializers import StrictInputSerializer
from core.regions import REGIONS
from disbursement.models import Provider
from vouchers import services
from vouchers.models import Program
from vouchers.policies import require_program_admin
from vouchers.selectors import program_list_public


class ProviderRef(serializers.Serializer):
    id = serializers.IntegerField()
    short_name = serializers.CharField()
    legal_name = serializers.CharField()


class CriterionOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_zh = serializers.CharField()
    guidance = serializers.CharField()
    weight = serializers.IntegerField()
    max_score = serializers.IntegerField()


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
    reviews_required = serializers.IntegerField()
    criteria = CriterionOutput(many=True)


class ProgramInput(StrictInputSerializer):
    """Every parameter of a program. Amounts are decimal strings; rates are basis points."""

    code = serializers.CharField(max_length=30)
    slug = serializers.SlugField(max_length=80)
    name = serializers.CharField(max_length=200)
    name_zh = serializers.CharField(max_length=200, required=False, allow_blank=True)
    summary = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    summary_zh = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    region = serializers.ChoiceField(choices=REGIONS)
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    budget = MoneyField(source="budget_cents", allow_zero=True)
    award_floor = MoneyField(source="award_floor_cents")
    award_ceiling = MoneyField(source="award_ceiling_cents")
    rate_standard_bps = serializers.IntegerField(min_value=0, max_value=10_000)
    rate_domestic_bps = serializers.IntegerField(min_value=0, max_value=10_000)
    allowed_regions = serializers.ListField(
        child=serializers.ChoiceField(choices=REGIONS), required=False
    )
    max_company_age_years = serializers.IntegerField(
        min_value=1, max_value=200, required=False, allow_null=True
    )
    max_headcount = serializers.IntegerField(
        min_value=1, max_value=10_000_000, required=False, allow_null=True
    )
    max_annual_revenue = MoneyField(
        source="max_annual_revenue_cents", required=False, allow_null=True
    )
    requires_startup = serializers.BooleanField(required=False)
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    voucher_validity_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
    over_cap_policy = serializers.ChoiceField(choices=Program.OverCapPolicy.choices, required=False)
    is_published = serializers.BooleanField(required=False)
    reviews_required = serializers.IntegerField(min_value=1, max_value=20, required=False)
    authority_name = serializers.CharField(max_length=200, required=False)
    authority_name_zh = serializers.CharField(max_length=200, required=False, allow_blank=True)
    authority_address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    signatory_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    signatory_title = serializers.CharField(max_length=150, required=False, allow_blank=True)
    signatory_title_zh = serializers.CharField(max_length=150, required=False, allow_blank=True)
    terms = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    terms_zh = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    approved_providers = serializers.PrimaryKeyRelatedField(
        queryset=Provider.objects.all(), many=True, required=False
    )


class ProgramListApi(APIView):
    """Everyone reads published programs; administrators create them."""

    def get_permissions(self) -> Any:
        return [AllowAny()] if self.request.method == "GET" else super().get_permissions()

    @extend_schema(
        operation_id="programs_list",
        parameters=[OpenApiParameter("state", enum=["open", "upcoming", "closed"], required=False)],
        responses=ProgramOutput(many=True),
        auth=[],
    )
    def get(self, request: Request) -> Response:
        qs = program_list_public().prefetch_related("approved_providers", "criteria")
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

    @extend_schema(
        operation_id="programs_create", request=ProgramInput, responses={201: ProgramOutput}
    )
    def post(self, request: Request) -> Response:
        require_program_admin(user_of(request))  # the permission first, then the input
        data = ProgramInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        providers = values.pop("approved_providers", None)
        program = services.program_create(actor=user_of(request), providers=providers, **values)
        return Response(ProgramOutput(program).data, status=status.HTTP_201_CREATED)


class ProgramDetailApi(APIView):
    def get_permissions(self) -> Any:
        return [AllowAny()] if self.request.method == "GET" else super().get_permissions()

    @extend_schema(operation_id="programs_retrieve", responses=ProgramOutput, auth=[])
    def get(self, request: Request, program_id: int) -> Response:
        program = get_object_or_404(
            program_list_public().prefetch_related("approved_providers", "criteria"), pk=program_id
        )
        return Response(ProgramOutput(program).data)

    @extend_schema(
        operation_id="programs_update", request=ProgramInput(partial=True), responses=ProgramOutput
    )
    def patch(self, request: Request, program_id: int) -> Response:
        """Change a program (administrators). Vouchers already issued keep their terms."""
        program = get_object_or_404(Program, pk=program_id)
        require_program_admin(user_of(request))  # the permission first, then the input
        data = ProgramInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        providers = values.pop("approved_providers", None)
        program = services.program_update(
            actor=user_of(request), program_id=program.pk, providers=providers, **values
        )
        return Response(ProgramOutput(program).data)


class CriterionInput(StrictInputSerializer):
    code = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=200)
    name_zh = serializers.CharField(max_length=200, required=False, allow_blank=True)
    guidance = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    weight = serializers.IntegerField(min_value=1, max_value=100)
    max_score = serializers.IntegerField(min_value=1, max_value=100, required=False)
    position = serializers.IntegerField(min_value=0, max_value=1000, required=False)


class ProgramCriteriaApi(APIView):
    @extend_schema(
        operation_id="programs_criteria_save", request=CriterionInput, responses=CriterionOutput
    )
    def post(self, request: Request, program_id: int) -> Response:
        """Add a rubric criterion, or change the one with this code (administrators)."""
        program = get_object_or_404(Program, pk=program_id)
        require_program_admin(user_of(request))  # the permission first, then the input
        data = CriterionInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        criterion = services.criterion_save(actor=user_of(request), program_id=program.pk, **values)
        return Response(CriterionOutput(criterion).data)
