"""REST API for reports: request one (202, rendered in the background), read its status and
progress, download its PDF or CSV (audited). The same policies and services as the pages."""

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.utils import user_of
from audit.models import AuditAction
from core.api.pagination import PageNumberPagination
from core.api.serializers import StrictInputSerializer
from core.money import cents_to_str
from reports import services
from reports.models import Report
from reports.policies import (
    BIGINT_MAX,
    ReportAction,
    report_get_for,
    report_require_request,
    reports_visible_to,
)


class ReportCreateInput(StrictInputSerializer):
    kind = serializers.ChoiceField(choices=Report.Kind.choices)
    program = serializers.IntegerField(
        min_value=1,
        max_value=BIGINT_MAX,
        required=False,
        allow_null=True,
        help_text="program_summary (required), voucher_register (leave out for all programs)",
    )
    voucher = serializers.IntegerField(
        min_value=1, max_value=BIGINT_MAX, required=False, help_text="voucher_statement"
    )
    run = serializers.IntegerField(
        min_value=1,
        max_value=BIGINT_MAX,
        required=False,
        help_text="reconciliation: the id of a finished reconciliation run",
    )
    date_from = serializers.DateField(required=False, help_text="audit_extract, inclusive")
    date_to = serializers.DateField(required=False, help_text="audit_extract, inclusive")
    stream = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=120,
        help_text='audit_extract: "vouchers.voucher:42" (one stream) or "vouchers.voucher"',
    )
    action = serializers.ChoiceField(
        choices=AuditAction.choices, required=False, allow_blank=True, help_text="audit_extract"
    )
    language = serializers.ChoiceField(
        choices=settings.LANGUAGES,
        required=False,
        help_text="The report's language; the requester's own by default.",
    )


class ProgressOutput(serializers.Serializer):
    done = serializers.IntegerField(source="progress_done")
    total = serializers.IntegerField(source="progress_total")
    percent = serializers.IntegerField()


class ReportOutput(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    parameters = serializers.DictField()
    language = serializers.CharField()
    requested_by = serializers.CharField(source="requested_by.email")
    requested_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    progress = ProgressOutput(source="*")
    error = serializers.CharField()
    pdf_sha256 = serializers.CharField()
    csv_sha256 = serializers.CharField()
    pdf_bytes = serializers.IntegerField(allow_null=True)
    csv_bytes = serializers.IntegerField(allow_null=True)
    pages = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    def get_pages(self, report: Report) -> int | None:
        pages = report.summary.get("pages")
        return int(pages) if pages is not None else None

    @extend_schema_field(
        {
            "type": "object",
            "additionalProperties": {"type": "string", "example": "150000.00"},
            "description": "The totals the PDF prints, as decimal strings (ledger sums).",
        }
    )
    def get_totals(self, report: Report) -> dict[str, str]:
        totals = report.summary.get("totals") or {}
        return {key.removesuffix("_cents"): cents_to_str(int(v)) for key, v in totals.items()}

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"}})
    def get_counts(self, report: Report) -> dict[str, int]:
        return dict(report.summary.get("counts") or {})

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_links(self, report: Report) -> dict[str, str]:
        links = {"self": reverse("api:report", args=[report.pk])}
        if report.status == Report.Status.DONE:
            links["pdf"] = reverse("api:report-pdf", args=[report.pk])
            links["csv"] = reverse("api:report-csv", args=[report.pk])
        return links


class ReportListCreateApi(GenericAPIView):
    """List the reports the caller may see, newest first, or request one."""

    pagination_class = PageNumberPagination
    serializer_class = ReportOutput

    def get_queryset(self) -> QuerySet[Report]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no real user
            return Report.objects.none()
        return reports_visible_to(user_of(self.request)).order_by("-requested_at", "-id")

    @extend_schema(operation_id="reports_list", responses=ReportOutput(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ReportOutput(page, many=True).data)

    @extend_schema(
        operation_id="reports_create", request=ReportCreateInput, responses={202: ReportOutput}
    )
    def post(self, request: Request) -> Response:
        """Queue a report. 202: poll the report until its status is done (or failed); 400 with
        a code says which parameter is wrong; 403 when the caller's role may not ask for it."""
        user = user_of(request)
        # The permission first (403), then the input (400).
        asked = request.data.get("kind") if hasattr(request.data, "get") else None
        report_require_request(viewer=user, kind=asked if isinstance(asked, str) else "")
        data = ReportCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params: dict[str, Any] = dict(data.validated_data)
        kind = params.pop("kind")
        for name in ("date_from", "date_to"):
            if name in params:
                params[name] = params[name].isoformat()
        report = services.report_request(actor=user, kind=kind, params=params)
        return Response(ReportOutput(report).data, status=status.HTTP_202_ACCEPTED)


class ReportDetailApi(APIView):
    @extend_schema(operation_id="reports_retrieve", responses=ReportOutput)
    def get(self, request: Request, report_id: int) -> Response:
        """The report's status, progress, hashes and, once done, its download links."""
        report = report_get_for(
            viewer=user_of(request), report_id=report_id, action=ReportAction.VIEW
        )
        return Response(ReportOutput(report).data)


class ReportRetryApi(APIView):
    @extend_schema(operation_id="reports_retry", request=None, responses={202: ReportOutput})
    def post(self, request: Request, report_id: int) -> Response:
        """Queue a failed report again (its requester or an administrator)."""
        user = user_of(request)
        report = report_get_for(viewer=user, report_id=report_id, action=ReportAction.RETRY)
        report = services.report_retry(actor=user, report_id=report.pk)
        return Response(ReportOutput(report).data, status=status.HTTP_202_ACCEPTED)


class _DownloadApi(APIView):
    fmt = ""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # Errors are JSON whatever the client accepts; the file itself bypasses the renderers.
        return super().perform_content_negotiation(request, force=True)

    def get(self, request: Request, report_id: int) -> FileResponse:
        user = user_of(request)
        report = report_get_for(viewer=user, report_id=report_id, action=ReportAction.DOWNLOAD)
        name, handle, content_type, sha256 = services.report_download(
            actor=user, report=report, fmt=self.fmt
        )
        response = FileResponse(
            handle, as_attachment=True, filename=name, content_type=content_type
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["X-Checksum-SHA256"] = sha256
        return response


class ReportPdfApi(_DownloadApi):
    fmt = "pdf"

    @extend_schema(
        operation_id="reports_download_pdf",
        responses={
            (200, "application/pdf"): OpenApiResponse(
                response=OpenApiTypes.BINARY,
                description="The report as PDF/A-3b with its CSV embedded; audited",
            ),
            409: OpenApiResponse(description="The report is not done yet (`not_ready`)."),
        },
    )
    def get(self, request: Request, report_id: int) -> FileResponse:
        """The PDF of a done report (409 while it is not ready). Every download is audited."""
        return super().get(request, report_id)


class ReportCsvApi(_DownloadApi):
    fmt = "csv"

    @extend_schema(
        operation_id="reports_download_csv",
        responses={
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.BINARY, description="The report's data (UTF-8); audited"
            ),
            409: OpenApiResponse(description="The report is not done yet (`not_ready`)."),
        },
    )
    def get(self, request: Request, report_id: int) -> FileResponse:
        """The CSV of a done report (409 while it is not ready). Every download is audited."""
        return super().get(request, report_id)
