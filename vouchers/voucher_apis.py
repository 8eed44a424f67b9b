"""REST API for vouchers and award letters, and the public letter check."""

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.utils import user_of
from audit.services import audit_download
from core.api.fields import MoneyField
from core.api.pagination import PageNumberPagination
from core.api.serializers import StrictInputSerializer
from vouchers import codes, services
from vouchers.models import AwardLetter, Voucher
from vouchers.policies import VoucherAction
from vouchers.selectors import letters_of, voucher_get_for, voucher_list_for_viewer


class VoucherOutput(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    status = serializers.CharField()
    application = serializers.IntegerField(source="application_id")
    application_reference = serializers.CharField(source="application.reference")
    organization = serializers.CharField(source="organization.legal_name")
    program = serializers.CharField(source="program.code")
    currency = serializers.CharField()
    cap = MoneyField(source="cap_cents")
    spent = MoneyField(source="spent_cents", allow_zero=True)
    remaining = MoneyField(source="remaining_cents", allow_zero=True)
    rate_standard_bps = serializers.IntegerField()
    rate_domestic_bps = serializers.IntegerField()
    over_cap_policy = serializers.CharField()
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField()
    activated_at = serializers.DateTimeField(allow_null=True)


class LetterOutput(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    reference = serializers.CharField()
    language = serializers.CharField()
    template_version = serializers.CharField()
    status = serializers.CharField()
    sha256 = serializers.CharField()
    size_bytes = serializers.IntegerField(allow_null=True)
    rendered_at = serializers.DateTimeField(allow_null=True)
    superseded_at = serializers.DateTimeField(allow_null=True)
    correction_reason = serializers.CharField()
    last_error = serializers.CharField()


class VoucherListApi(APIView):
    pagination_class = PageNumberPagination  # also tells the schema the list is paginated

    @extend_schema(operation_id="vouchers_list", responses=VoucherOutput(many=True))
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        qs = voucher_list_for_viewer(viewer=user_of(request)).order_by("-created_at", "-id")
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(VoucherOutput(page, many=True).data)


class VoucherDetailApi(APIView):
    @extend_schema(operation_id="vouchers_retrieve", responses=VoucherOutput)
    def get(self, request: Request, voucher_id: int) -> Response:
        voucher = voucher_get_for(
            viewer=user_of(request), voucher_id=voucher_id, action=VoucherAction.VIEW
        )
        return Response(VoucherOutput(voucher).data)


class VoucherLookupApi(APIView):
    @extend_schema(
        operation_id="vouchers_lookup",
        responses=VoucherOutput,
        parameters=[
            OpenApiParameter("code", required=True, description="e.g. CV-7K3M-9QXD-2HBA-F")
        ],
    )
    def get(self, request: Request) -> Response:
        """Find a voucher by its code. A mistyped code is refused by its check character (400)
        before anything is looked up."""
        try:
            code = codes.normalize(request.query_params.get("code", ""))
        except codes.VoucherCodeError as exc:
            raise ValidationError({"code": [exc.message]}, code=exc.code) from exc
        voucher = Voucher.objects.filter(code=code).first()
        if voucher is None:
            raise Http404("No voucher has this code.")
        voucher = voucher_get_for(
            viewer=user_of(request), voucher_id=voucher.pk, action=VoucherAction.VIEW
        )
        return Response(VoucherOutput(voucher).data)


class VoucherAcceptApi(APIView):
    @extend_schema(operation_id="vouchers_accept", request=None, responses=VoucherOutput)
    def post(self, request: Request, voucher_id: int) -> Response:
        """Accept the award (the letter must be ready): the voucher becomes active."""
        user = user_of(request)
        voucher = voucher_get_for(viewer=user, voucher_id=voucher_id, action=VoucherAction.ACCEPT)
        return Response(
            VoucherOutput(services.voucher_accept(actor=user, voucher_id=voucher.pk)).data
        )


class ReissueInput(StrictInputSerializer):
    reason = serializers.CharField(max_length=1000)


class LetterListApi(APIView):
    @extend_schema(operation_id="vouchers_letters_list", responses=LetterOutput(many=True))
    def get(self, request: Request, voucher_id: int) -> Response:
        voucher = voucher_get_for(
            viewer=user_of(request), voucher_id=voucher_id, action=VoucherAction.VIEW
        )
        return Response(LetterOutput(letters_of(voucher=voucher), many=True).data)

    @extend_schema(
        operation_id="vouchers_letters_reissue", request=ReissueInput, responses={201: LetterOutput}
    )
    def post(self, request: Request, voucher_id: int) -> Response:
        """Issue a corrected letter as a new version (officers); the old one is kept, superseded."""
        user = user_of(request)
        voucher = voucher_get_for(
            viewer=user, voucher_id=voucher_id, action=VoucherAction.REISSUE_LETTER
        )
        data = ReissueInput(data=request.data)
        data.is_valid(raise_exception=True)
        letter = services.award_letter_reissue(
            actor=user, voucher_id=voucher.pk, reason=data.validated_data["reason"]
        )
        return Response(LetterOutput(letter).data, status=status.HTTP_201_CREATED)


class LetterDownloadApi(APIView):
    @extend_schema(
        operation_id="vouchers_letters_download",
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The award letter"
            )
        },
    )
    def get(self, request: Request, voucher_id: int, version: int) -> FileResponse:
        voucher = voucher_get_for(
            viewer=user_of(request), voucher_id=voucher_id, action=VoucherAction.VIEW
        )
        letter = get_object_or_404(
            AwardLetter, voucher=voucher, version=version, status=AwardLetter.Status.READY
        )
        audit_download(
            actor=request.user,
            target=letter,
            filename=f"{letter.reference}.pdf",
            data={"sha256": letter.sha256},
        )
        response = FileResponse(
            letter.pdf.open("rb"),
            as_attachment=True,
            filename=f"{letter.reference}.pdf",
            content_type="application/pdf",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


class LetterRetryApi(APIView):
    @extend_schema(operation_id="letters_retry", request=None, responses=LetterOutput)
    def post(self, request: Request, letter_id: int) -> Response:
        user = user_of(request)
        letter = get_object_or_404(AwardLetter, pk=letter_id)
        voucher_get_for(
            viewer=user, voucher_id=letter.voucher_id, action=VoucherAction.REISSUE_LETTER
        )
        return Response(
            LetterOutput(services.award_letter_retry(actor=user, letter_id=letter.pk)).data
        )


class LetterVerifyOutput(serializers.Serializer):
    reference = serializers.CharField()
    organization = serializers.CharField(source="snapshot.organization.legal_name")
    registration_number = serializers.CharField(source="snapshot.organization.registration_number")
    amount = serializers.CharField(source="snapshot.amount")
    sha256 = serializers.CharField()
    issued_at = serializers.DateTimeField(source="rendered_at")
    superseded = serializers.SerializerMethodField()
    matches = serializers.SerializerMethodField()

    def get_superseded(self, letter: AwardLetter) -> bool:
        return letter.superseded_at is not None

    def get_matches(self, letter: AwardLetter) -> bool | None:
        candidate = self.context.get("sha256")
        return None if not candidate else candidate == letter.sha256


class LetterVerifyApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="letters_verify",
        responses=LetterVerifyOutput,
        auth=[],
        parameters=[
            OpenApiParameter(
                "sha256",
                required=False,
                description="compare a file's SHA-256 with the issued letter",
            )
        ],
    )
    def get(self, request: Request, reference: str) -> Response:
        """Public: was a letter with this reference issued, and is a file with this hash it?"""
        letter = AwardLetter.objects.filter(
            reference=reference, status=AwardLetter.Status.READY
        ).first()
        if letter is None:
            raise Http404("No letter with this reference was issued.")
        candidate = (request.query_params.get("sha256") or "").strip().lower()
        if candidate and (
            len(candidate) != 64 or any(c not in "0123456789abcdef" for c in candidate)
        ):
            raise ValidationError({"sha256": ["Send the 64 hexadecimal characters of a SHA-256."]})
        return Response(LetterVerifyOutput(letter, context={"sha256": candidate}).data)
