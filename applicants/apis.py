"""REST API for organizations and applications. The same services and policies as the pages."""

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.utils import user_of
from applicants import services, uploads
from applicants.filters import BIGINT_MAX, ApplicationFilter
from applicants.models import Application, ApplicationVersion, Document, Organization
from applicants.policies import AppAction, OrgAction, require_applicant_account
from applicants.rules import diff, missing_items
from applicants.selectors import (
    application_documents,
    application_get_for,
    application_list_for_viewer,
    application_versions,
    organization_get_for,
    organization_list_for_user,
)
from core.api.fields import MoneyField
from core.api.pagination import PageNumberPagination
from core.api.serializers import StrictInputSerializer
from core.exceptions import DomainError
from core.money import cents_to_str
from core.regions import REGIONS
from disbursement.models import Provider
from vouchers.models import Program
from vouchers.selectors import with_content_flag

# --- Organizations -----------------------------------------------------------------------------


class OrganizationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    legal_name = serializers.CharField()
    registration_scheme = serializers.CharField()
    registration_number = serializers.CharField()
    region = serializers.CharField()
    address = serializers.CharField()
    website = serializers.CharField()
    incorporated_on = serializers.DateField()
    headcount = serializers.IntegerField()
    annual_revenue = MoneyField(source="annual_revenue_cents", allow_zero=True)
    revenue_currency = serializers.CharField()
    created_at = serializers.DateTimeField()


class OrganizationInput(StrictInputSerializer):
    legal_name = serializers.CharField(max_length=200)
    registration_scheme = serializers.ChoiceField(
        choices=Organization.Scheme.choices, default="cn_uscc"
    )
    registration_number = serializers.CharField(max_length=60)
    region = serializers.ChoiceField(choices=REGIONS)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    website = serializers.URLField(max_length=200, required=False, allow_blank=True, default="")
    incorporated_on = serializers.DateField()
    headcount = serializers.IntegerField(min_value=0, max_value=10_000_000)
    annual_revenue = MoneyField(
        allow_zero=True, required=False, default=0, source="annual_revenue_cents"
    )
    revenue_currency = serializers.RegexField(r"^[A-Z]{3}$", required=False, default="CNY")


class OrganizationUpdateInput(StrictInputSerializer):
    legal_name = serializers.CharField(max_length=200, required=False)
    region = serializers.ChoiceField(choices=REGIONS, required=False)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    website = serializers.URLField(max_length=200, required=False, allow_blank=True)
    incorporated_on = serializers.DateField(required=False)
    headcount = serializers.IntegerField(min_value=0, max_value=10_000_000, required=False)
    annual_revenue = MoneyField(allow_zero=True, required=False, source="annual_revenue_cents")
    revenue_currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)


class OrganizationListCreateApi(APIView):
    @extend_schema(operation_id="organizations_list", responses=OrganizationOutput(many=True))
    def get(self, request: Request) -> Response:
        organizations = organization_list_for_user(user=user_of(request))
        return Response(OrganizationOutput(organizations, many=True).data)

    @extend_schema(
        operation_id="organizations_create",
        request=OrganizationInput,
        responses={201: OrganizationOutput},
    )
    def post(self, request: Request) -> Response:
        require_applicant_account(user_of(request), creating="organization")  # before the input
        data = OrganizationInput(data=request.data)
        data.is_valid(raise_exception=True)
        organization = services.organization_create(actor=user_of(request), **data.validated_data)
        return Response(OrganizationOutput(organization).data, status=status.HTTP_201_CREATED)


class OrganizationDetailApi(APIView):
    @extend_schema(operation_id="organizations_retrieve", responses=OrganizationOutput)
    def get(self, request: Request, organization_id: int) -> Response:
        organization = organization_get_for(
            viewer=user_of(request),
            organization_id=organization_id,
            action=OrgAction.VIEW,
        )
        return Response(OrganizationOutput(organization).data)

    @extend_schema(
        operation_id="organizations_update",
        request=OrganizationUpdateInput,
        responses=OrganizationOutput,
    )
    def patch(self, request: Request, organization_id: int) -> Response:
        organization = organization_get_for(
            viewer=user_of(request),
            organization_id=organization_id,
            action=OrgAction.EDIT,
        )
        data = OrganizationUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        organization = services.organization_update(
            actor=user_of(request),
            organization_id=organization.pk,
            **data.validated_data,
        )
        return Response(OrganizationOutput(organization).data)


class MemberOutput(serializers.Serializer):
    user_id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    role = serializers.CharField()
    joined_at = serializers.DateTimeField(source="created_at")


class OrganizationMembersApi(APIView):
    @extend_schema(operation_id="organizations_members_list", responses=MemberOutput(many=True))
    def get(self, request: Request, organization_id: int) -> Response:
        organization = organization_get_for(
            viewer=user_of(request),
            organization_id=organization_id,
            action=OrgAction.VIEW,
        )
        members = organization.memberships.select_related("user").order_by("created_at")
        return Response(MemberOutput(members, many=True).data)


class InviteInput(StrictInputSerializer):
    email = serializers.EmailField(max_length=254)


class InvitationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.CharField()
    expires_at = serializers.DateTimeField()


class OrganizationInviteApi(APIView):
    @extend_schema(
        operation_id="organizations_invite", request=InviteInput, responses={201: InvitationOutput}
    )
    def post(self, request: Request, organization_id: int) -> Response:
        organization = organization_get_for(
            viewer=user_of(request),
            organization_id=organization_id,
            action=OrgAction.INVITE,
        )
        data = InviteInput(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, _raw = services.invitation_create(
            actor=user_of(request),
            organization_id=organization.pk,
            email=data.validated_data["email"],
        )
        return Response(InvitationOutput(invitation).data, status=status.HTTP_201_CREATED)


class InvitationAcceptInput(StrictInputSerializer):
    token = serializers.CharField(max_length=200)


class InvitationAcceptApi(APIView):
    @extend_schema(
        operation_id="invitations_accept", request=InvitationAcceptInput, responses=MemberOutput
    )
    def post(self, request: Request) -> Response:
        data = InvitationAcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.invitation_accept(
            actor=user_of(request), token=data.validated_data["token"]
        )
        return Response(MemberOutput(membership).data)


# --- Applications ------------------------------------------------------------------------------


class _Ref(serializers.Serializer):
    id = serializers.IntegerField()


class _OrgRef(_Ref):
    legal_name = serializers.CharField()


class _ProgramRef(_Ref):
    code = serializers.CharField()
    name = serializers.CharField()


class ApplicationListOutput(serializers.Serializer):
    """A row of a list. `title` and `requested_amount` are null for officers who have not yet
    declared whether they have a conflict of interest with the application."""

    id = serializers.IntegerField()
    reference = serializers.CharField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    title = serializers.SerializerMethodField()
    organization = _OrgRef()
    program = _ProgramRef()
    requested_amount = serializers.SerializerMethodField()
    currency = serializers.CharField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()

    @extend_schema_field({"type": "string", "nullable": True})
    def get_title(self, application: Application) -> str | None:
        return application.title if getattr(application, "content_visible", True) else None

    @extend_schema_field({"type": "string", "nullable": True, "example": "150000.00"})
    def get_requested_amount(self, application: Application) -> str | None:
        if (
            not getattr(application, "content_visible", True)
            or application.requested_amount_cents is None
        ):
            return None
        return cents_to_str(application.requested_amount_cents)


class DocumentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField(source="original_name")
    content_type = serializers.CharField()
    size_bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    uploaded_at = serializers.DateTimeField(source="created_at")


class MissingOutput(serializers.Serializer):
    step = serializers.CharField()
    field = serializers.CharField()
    message = serializers.CharField()


class ApplicationDetailOutput(ApplicationListOutput):
    summary = serializers.CharField()
    description = serializers.CharField()
    gpu_hours = serializers.IntegerField(allow_null=True)
    gpu_model = serializers.CharField()
    chip_origin = serializers.CharField()
    intended_provider = serializers.IntegerField(source="intended_provider_id", allow_null=True)
    compute_plan = serializers.CharField()
    declares_truthful = serializers.BooleanField()
    declares_no_double_funding = serializers.BooleanField()
    declares_no_provider_affiliation = serializers.BooleanField()
    declared_by_name = serializers.CharField()
    declared_at = serializers.DateTimeField(allow_null=True)
    return_message = serializers.CharField()
    returned_at = serializers.DateTimeField(allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    documents = serializers.SerializerMethodField()
    missing = serializers.SerializerMethodField(
        help_text="What must be answered before submitting."
    )

    @extend_schema_field(DocumentOutput(many=True))
    def get_documents(self, application: Application) -> Any:
        return DocumentOutput(self.context["documents"], many=True).data

    @extend_schema_field(MissingOutput(many=True))
    def get_missing(self, application: Application) -> Any:
        if not application.is_editable:
            return []
        return MissingOutput(missing_items(application, self.context["documents"]), many=True).data


def _detail(application: Application) -> Any:
    documents = list(application_documents(application=application))
    return ApplicationDetailOutput(application, context={"documents": documents}).data


class ApplicationCreateInput(StrictInputSerializer):
    organization = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)
    program = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)


class ApplicationListCreateApi(GenericAPIView):
    """List the applications the caller may see (filtered, paginated), or start a draft."""

    filter_backends = [DjangoFilterBackend]
    filterset_class = ApplicationFilter
    pagination_class = PageNumberPagination
    serializer_class = ApplicationListOutput

    def get_queryset(self) -> QuerySet[Application]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no real user
            return Application.objects.none()
        viewer = user_of(self.request)
        visible = application_list_for_viewer(viewer=viewer).order_by("-updated_at", "-id")
        return with_content_flag(visible, viewer=viewer)

    @extend_schema(operation_id="applications_list", responses=ApplicationListOutput(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ApplicationListOutput(page, many=True).data)

    @extend_schema(
        operation_id="applications_create",
        request=ApplicationCreateInput,
        responses={201: ApplicationDetailOutput},
    )
    def post(self, request: Request) -> Response:
        require_applicant_account(user_of(request), creating="application")  # before the input
        data = ApplicationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_of(request)
        organization = Organization.objects.filter(pk=data.validated_data["organization"]).first()
        if organization is None:
            raise DomainError(
                "No such organization.",
                code="not_found",
                fields={"organization": ["No such organization."]},
            )
        organization_get_for(viewer=user, organization_id=organization.pk, action=OrgAction.APPLY)
        if not Program.objects.filter(
            pk=data.validated_data["program"], is_published=True
        ).exists():
            raise DomainError(
                "No such program.", code="not_found", fields={"program": ["No such program."]}
            )
        application = services.application_create(
            actor=user, organization_id=organization.pk, program_id=data.validated_data["program"]
        )
        return Response(_detail(application), status=status.HTTP_201_CREATED)


class ApplicationUpdateInput(StrictInputSerializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    summary = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    description = serializers.CharField(
        max_length=10_000, required=False, allow_blank=True, trim_whitespace=False
    )
    gpu_hours = serializers.IntegerField(
        min_value=1, max_value=10**12, required=False, allow_null=True
    )
    gpu_model = serializers.CharField(max_length=100, required=False, allow_blank=True)
    chip_origin = serializers.ChoiceField(
        choices=Application.ChipPlan.choices, required=False, allow_blank=True
    )
    intended_provider = serializers.PrimaryKeyRelatedField(
        queryset=Provider.objects.all(), required=False, allow_null=True
    )
    compute_plan = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    requested_amount = MoneyField(required=False, allow_null=True, source="requested_amount_cents")
    declares_truthful = serializers.BooleanField(required=False)
    declares_no_double_funding = serializers.BooleanField(required=False)
    declares_no_provider_affiliation = serializers.BooleanField(required=False)
    declared_by_name = serializers.CharField(max_length=150, required=False, allow_blank=True)


class ApplicationDetailApi(APIView):
    @extend_schema(operation_id="applications_retrieve", responses=ApplicationDetailOutput)
    def get(self, request: Request, application_id: int) -> Response:
        application = application_get_for(
            viewer=user_of(request),
            application_id=application_id,
            action=AppAction.VIEW_CONTENT,
        )
        return Response(_detail(application))

    @extend_schema(
        operation_id="applications_update",
        request=ApplicationUpdateInput,
        responses=ApplicationDetailOutput,
    )
    def patch(self, request: Request, application_id: int) -> Response:
        application = application_get_for(
            viewer=user_of(request),
            application_id=application_id,
            action=AppAction.EDIT,
        )
        data = ApplicationUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        application = services.application_update(
            actor=user_of(request),
            application_id=application.pk,
            values=dict(data.validated_data),
        )
        application = application_get_for(
            viewer=user_of(request), application_id=application.pk, action=AppAction.VIEW_CONTENT
        )
        return Response(_detail(application))


class DocumentInput(StrictInputSerializer):
    kind = serializers.ChoiceField(choices=Document.Kind.choices)
    file = serializers.FileField(allow_empty_file=True)


class ApplicationDocumentsApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(operation_id="applications_documents_list", responses=DocumentOutput(many=True))
    def get(self, request: Request, application_id: int) -> Response:
        application = application_get_for(
            viewer=user_of(request),
            application_id=application_id,
            action=AppAction.VIEW_CONTENT,
        )
        return Response(
            DocumentOutput(application_documents(application=application), many=True).data
        )

    @extend_schema(
        operation_id="applications_documents_create",
        request={"multipart/form-data": DocumentInput},
        responses={201: DocumentOutput},
    )
    def post(self, request: Request, application_id: int) -> Response:
        application = application_get_for(
            viewer=user_of(request),
            application_id=application_id,
            action=AppAction.EDIT,
        )
        data = DocumentInput(data=request.data)
        data.is_valid(raise_exception=True)
        document = services.document_add(
            actor=user_of(request),
            application_id=application.pk,
            kind=data.validated_data["kind"],
            upload=data.validated_data["file"],
        )
        return Response(DocumentOutput(document).data, status=status.HTTP_201_CREATED)


class ApplicationDocumentApi(APIView):
    @extend_schema(
        operation_id="applications_documents_download",
        responses={
            (200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description="The file")
            for content_type in uploads.ALLOWED
        },
    )
    def get(self, request: Request, application_id: int, document_id: int) -> FileResponse:
        application = application_get_for(
            viewer=user_of(request),
            application_id=application_id,
            action=AppAction.VIEW_CONTENT,
        )
        document = get_object_or_404(Document, pk=document_id, application=application)
        response = FileResponse(
            document.file.open("rb"),
            as_attachment=True,
            filename=document.original_name,
            content_type=document.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @extend_schema(operation_id="applications_documents_delete", responses={204: None})
    def delete(self, request: Request, application_id: int, document_id: int) -> Response:
        application = application_get_for(
            viewer=user_of(request),
            application_id=application_id,
            action=AppAction.EDIT,
        )
        services.document_remove(
            actor=user_of(request), application_id=application.pk, document_id=document_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReceiptOutput(serializers.Serializer):
    application_id = serializers.IntegerField(source="application.id")
    reference = serializers.CharField(source="application.reference")
    version = serializers.IntegerField(source="number")
    receipt_number = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    submitted_by = serializers.EmailField(source="submitted_by.email")
    content_sha256 = serializers.CharField()
    status = serializers.CharField(source="application.status")


class ApplicationSubmitApi(APIView):
    @extend_schema(operation_id="applications_submit", request=None, responses=ReceiptOutput)
    def post(self, request: Request, application_id: int) -> Response:
        application = application_get_for(
            viewer=user_of(request),
            application_id=application_id,
            action=AppAction.SUBMIT,
        )
        application = services.application_submit(
            actor=user_of(request), application_id=application.pk
        )
        version = application.versions.select_related("submitted_by", "application").get(
            number=application.version
        )
        return Response(ReceiptOutput(version).data)


class WithdrawInput(StrictInputSerializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ApplicationWithdrawApi(APIView):
    @extend_schema(
        operation_id="applications_withdraw", request=WithdrawInput, responses=ApplicationListOutput
    )
    def post(self, request: Request, application_id: int) -> Response:
        application = application_get_for(
            viewer=user_of(request),
            application_id=application_id,
            action=AppAction.WITHDRAW,
        )
        data = WithdrawInput(data=request.data)
        data.is_valid(raise_exception=True)
        application = services.application_withdraw(
            actor=user_of(request),
            application_id=application.pk,
            reason=data.validated_data["reason"],
        )
        return Response(ApplicationListOutput(application).data)


class ReturnInput(StrictInputSerializer):
    message = serializers.CharField(max_length=10_000)


class ApplicationReturnApi(APIView):
    @extend_schema(
        operation_id="applications_return", request=ReturnInput, responses=ApplicationListOutput
    )
    def post(self, request: Request, application_id: int) -> Response:
        application = application_get_for(
            viewer=user_of(request),
            application_id=application_id,
            action=AppAction.RETURN,
        )
        data = ReturnInput(data=request.data)
        data.is_valid(raise_exception=True)
        application = services.application_return(
            actor=user_of(request),
            application_id=application.pk,
            message=data.validated_data["message"],
        )
        return Response(ApplicationListOutput(application).data)


class VersionOutput(serializers.Serializer):
    number = serializers.IntegerField()
    receipt_number = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    submitted_by = serializers.EmailField(source="submitted_by.email")
    content_sha256 = serializers.CharField()
    snapshot = serializers.JSONField()


class ApplicationVersionsApi(APIView):
    @extend_schema(operation_id="applications_versions_list", responses=VersionOutput(many=True))
    def get(self, request: Request, application_id: int) -> Response:
        application = application_get_for(
            viewer=user_of(request),
            application_id=application_id,
            action=AppAction.VIEW_CONTENT,
        )
        return Response(
            VersionOutput(application_versions(application=application), many=True).data
        )


class ChangeOutput(serializers.Serializer):
    field = serializers.CharField()
    field_label = serializers.CharField(source="label")
    before = serializers.CharField()
    after = serializers.CharField()


class DiffOutput(serializers.Serializer):
    from_version = serializers.IntegerField()
    to_version = serializers.IntegerField()
    changes = ChangeOutput(many=True)


class ApplicationVersionDiffApi(APIView):
    @extend_schema(operation_id="applications_versions_diff", responses=DiffOutput)
    def get(self, request: Request, application_id: int, number: int) -> Response:
        """What changed in version `number` compared with the version before it."""
        application = application_get_for(
            viewer=user_of(request),
            application_id=application_id,
            action=AppAction.VIEW_CONTENT,
        )
        versions = {
            v.number: v
            for v in ApplicationVersion.objects.filter(
                application=application, number__in=[number - 1, number]
            )
        }
        if number not in versions or number - 1 not in versions:
            raise Http404("No such version, or it is the first.")
        changes = diff(versions[number - 1].snapshot, versions[number].snapshot)
        return Response(
            DiffOutput({"from_version": number - 1, "to_version": number, "changes": changes}).data
        )
