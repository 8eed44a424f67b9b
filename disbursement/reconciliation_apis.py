"""REST API of reconciliation: ledger runs, provider statements, alerts. The same services and
visibility rules as the pages (disbursement.services.reconciliation)."""

import re
from datetime import date
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.utils import user_of
from core.api.pagination import PageNumberPagination
from core.api.serializers import StrictInputSerializer
from core.exceptions import NotAllowedError
from disbursement.models import Alert, Provider, ReconciliationRun
from disbursement.services import reconciliation as recon
from disbursement.services.reconciliation import ReconAction, recon_allows

MONTH = re.compile(r"^(?P<year>[1-9][0-9]{3})-(?P<month>0[1-9]|1[0-2])$")  # date() has no year 0


def _may_read_runs(user: Any) -> bool:
    return recon_allows(user, ReconAction.VIEW_ALL) or recon.own_provider_id(user) is not None


class DiscrepancyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    kind_label = serializers.CharField(source="get_kind_display")
    subject = serializers.CharField()
    expected = serializers.CharField(help_text="An amount as a decimal string, or a note.")
    actual = serializers.CharField(help_text="An amount as a decimal string, or a note.")
    is_problem = serializers.BooleanField(help_text="False for a matched statement line.")
    detail = serializers.JSONField()


class RunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    provider = serializers.IntegerField(source="provider_id", allow_null=True)
    provider_name = serializers.CharField(
        source="provider.short_name", allow_null=True, default=None
    )
    statement_month = serializers.DateField(format="%Y-%m", allow_null=True)
    statement_sha256 = serializers.CharField()
    started_by = serializers.EmailField(source="started_by.email", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    discrepancy_count = serializers.IntegerField()
    checked = serializers.JSONField()
    error = serializers.CharField()


class RunDetailOutput(RunOutput):
    discrepancies = serializers.SerializerMethodField()

    def get_discrepancies(self, run: ReconciliationRun) -> Any:
        qs = run.discrepancies.order_by("id")
        if self.context.get("problems_only"):
            qs = qs.filter(is_problem=True)
        return DiscrepancyOutput(qs, many=True).data


def _detail(run: ReconciliationRun, request: Request, code: int = status.HTTP_200_OK) -> Response:
    problems_only = request.query_params.get("problems") in ("1", "true")
    data = RunDetailOutput(run, context={"problems_only": problems_only}).data
    return Response(data, status=code)


class ReconciliationListCreateApi(APIView):
    pagination_class = PageNumberPagination  # also tells the schema the list is paginated

    @extend_schema(
        operation_id="reconciliations_list",
        parameters=[
            OpenApiParameter("kind", enum=ReconciliationRun.Kind.values),
            OpenApiParameter("status", enum=ReconciliationRun.Status.values),
            OpenApiParameter("provider", int),
        ],
        responses=RunOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        """Runs, newest first: every run for finance, officers and auditors; a provider's own
        statement runs for its staff."""
        user = user_of(request)
        if not _may_read_runs(user):
            raise NotAllowedError(_("Reconciliations are for finance, officers and auditors."))
        qs = recon.runs_visible_to(user)
        params = request.query_params
        if params.get("kind") in ReconciliationRun.Kind.values:
            qs = qs.filter(kind=params["kind"])
        if params.get("status") in ReconciliationRun.Status.values:
            qs = qs.filter(status=params["status"])
        if (params.get("provider") or "").isdigit() and len(params["provider"]) < 19:
            qs = qs.filter(provider_id=int(params["provider"]))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs.order_by("-created_at", "-id"), request, view=self)
        return paginator.get_paginated_response(RunOutput(page, many=True).data)

    @extend_schema(
        operation_id="reconciliations_run", request=None, responses={201: RunDetailOutput}
    )
    def post(self, request: Request) -> Response:
        """Reconcile the whole ledger now (as the nightly task does) and answer with the run."""
        user = user_of(request)
        if not recon_allows(user, ReconAction.RUN_LEDGER):
            raise NotAllowedError(
                _("Only approvers, administrators and finance run a reconciliation.")
            )
        run = recon.reconcile_ledger(actor=user)
        return _detail(run, request, status.HTTP_201_CREATED)


class ReconciliationDetailApi(APIView):
    @extend_schema(
        operation_id="reconciliations_retrieve",
        parameters=[OpenApiParameter("problems", bool, description="Only the problems.")],
        responses=RunDetailOutput,
    )
    def get(self, request: Request, run_id: int) -> Response:
        run = get_object_or_404(recon.runs_visible_to(user_of(request)), pk=run_id)
        return _detail(run, request)


class StatementInput(StrictInputSerializer):
    month = serializers.RegexField(
        MONTH,
        help_text="The statement's month, YYYY-MM.",
        error_messages={"invalid": "Use YYYY-MM."},
    )
    file = serializers.FileField(
        help_text="CSV, UTF-8: voucher_code, invoice_number, provider_reference, amount, "
        "currency, service_date."
    )

    def validate_month(self, value: str) -> date:
        return date(int(value[:4]), int(value[5:7]), 1)


class StatementUploadApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="providers_statements_create",
        request={"multipart/form-data": StatementInput},
        responses={201: RunDetailOutput},
    )
    def post(self, request: Request, provider_id: int) -> Response:
        """Reconcile a provider's monthly statement with its accepted claims of that month."""
        user = user_of(request)
        provider = get_object_or_404(Provider, pk=provider_id)
        if not recon.may_upload_statement(user, provider.pk):
            raise NotAllowedError(
                _("Only the provider's own staff, finance and approvers reconcile its statements.")
            )
        data = StatementInput(data=request.data)
        data.is_valid(raise_exception=True)
        run = recon.reconcile_statement(
            actor=user,
            provider_id=provider.pk,
            month=data.validated_data["month"],
            csv_file=data.validated_data["file"],
        )
        return _detail(run, request, status.HTTP_201_CREATED)


class AlertOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    message = serializers.CharField()
    voucher = serializers.IntegerField(source="voucher_id", allow_null=True)
    voucher_code = serializers.CharField(source="voucher.code", allow_null=True, default=None)
    run = serializers.IntegerField(source="run_id", allow_null=True)
    created_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.EmailField(
        source="acknowledged_by.email", allow_null=True, default=None
    )


class AlertListApi(APIView):
    pagination_class = PageNumberPagination  # also tells the schema the list is paginated

    @extend_schema(
        operation_id="alerts_list",
        parameters=[
            OpenApiParameter("kind", enum=Alert.Kind.values),
            OpenApiParameter("open", bool, description="Only alerts nobody acknowledged yet."),
        ],
        responses=AlertOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        user = user_of(request)
        if not recon_allows(user, ReconAction.VIEW_ALERTS):
            raise NotAllowedError(_("Alerts are for officers, finance and auditors."))
        qs = recon.alerts_visible_to(user)
        if request.query_params.get("kind") in Alert.Kind.values:
            qs = qs.filter(kind=request.query_params["kind"])
        if request.query_params.get("open") in ("1", "true"):
            qs = recon.open_alerts(qs)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs.order_by("-created_at", "-id"), request, view=self)
        return paginator.get_paginated_response(AlertOutput(page, many=True).data)


class AlertAcknowledgeApi(APIView):
    @extend_schema(operation_id="alerts_acknowledge", request=None, responses=AlertOutput)
    def post(self, request: Request, alert_id: int) -> Response:
        """Mark an alert seen. Acknowledging it again changes nothing."""
        user = user_of(request)
        alert = get_object_or_404(recon.alerts_visible_to(user), pk=alert_id)
        alert = recon.alert_acknowledge(actor=user, alert_id=alert.pk)
        return Response(AlertOutput(recon.alerts_visible_to(user).get(pk=alert.pk)).data)
