"""REST API of the officers' work: conflict declarations, screening, assignments, reviews,
decisions. The same services and policies as the pages."""

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.utils import user_of
from applicants.filters import BIGINT_MAX
from applicants.policies import AppAction, application_allows
from applicants.selectors import application_get_for
from core.api.fields import MoneyField
from core.api.serializers import StrictInputSerializer
from vouchers import services
from vouchers.models import Decision, Recommendation
from vouchers.screening import describe
from vouchers.selectors import active_assignments, reviews_visible_to, screening_results


class ConflictInput(StrictInputSerializer):
    has_conflict = serializers.BooleanField()
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ConflictOutput(serializers.Serializer):
    application = serializers.IntegerField(source="application_id")
    has_conflict = serializers.BooleanField()
    note = serializers.CharField()
    declared_at = serializers.DateTimeField(source="created_at")


class ConflictDeclareApi(APIView):
    @extend_schema(
        operation_id="applications_conflict_declare",
        request=ConflictInput,
        responses={201: ConflictOutput},
    )
    def post(self, request: Request, application_id: int) -> Response:
        """Declare a conflict of interest (or none). Officers see no content before this."""
        user = user_of(request)
        application = application_get_for(
            viewer=user, application_id=application_id, action=AppAction.DECLARE_CONFLICT
        )
        data = ConflictInput(data=request.data)
        data.is_valid(raise_exception=True)
        declaration = services.conflict_declare(
            actor=user, application_id=application.pk, **data.validated_data
        )
        return Response(ConflictOutput(declaration).data, status=status.HTTP_201_CREATED)


class ScreeningResultOutput(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    rule = serializers.CharField()
    passed = serializers.BooleanField()
    reason = serializers.SerializerMethodField()
    parameter = serializers.JSONField()
    observed = serializers.JSONField()
    overridden_at = serializers.DateTimeField(allow_null=True)
    overridden_by = serializers.EmailField(
        source="overridden_by.email", allow_null=True, default=None
    )
    override_justification = serializers.CharField()

    def get_reason(self, result: Any) -> str:
        return describe(result.rule, result.passed, result.parameter, result.observed)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not self.context.get("officer", True):
            # The applicant learns that an officer accepted the rule, not who or their notes.
            data["overridden_by"], data["override_justification"] = None, ""
        return data


class ScreeningListApi(APIView):
    @extend_schema(
        operation_id="applications_screening_list", responses=ScreeningResultOutput(many=True)
    )
    def get(self, request: Request, application_id: int) -> Response:
        user = user_of(request)
        application = application_get_for(
            viewer=user, application_id=application_id, action=AppAction.VIEW_CONTENT
        )
        officer = application_allows(user, application, AppAction.VIEW_REVIEW_PROCESS)
        results = screening_results(application=application)
        return Response(
            ScreeningResultOutput(results, many=True, context={"officer": officer}).data
        )


class OverrideInput(StrictInputSerializer):
    justification = serializers.CharField(max_length=5000)


class ScreeningOverrideApi(APIView):
    @extend_schema(
        operation_id="applications_screening_override",
        request=OverrideInput,
        responses=ScreeningResultOutput,
    )
    def post(self, request: Request, application_id: int, result_id: int) -> Response:
        user = user_of(request)
        application = application_get_for(
            viewer=user, application_id=application_id, action=AppAction.SCREEN
        )
        data = OverrideInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.screening_override(
            actor=user,
            application_id=application.pk,
            result_id=result_id,
            justification=data.validated_data["justification"],
        )
        return Response(ScreeningResultOutput(result).data)


class AssignmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    reviewer = serializers.IntegerField(source="reviewer_id")
    reviewer_name = serializers.CharField(source="reviewer.full_name")
    assigned_at = serializers.DateTimeField(source="created_at")
    removed_at = serializers.DateTimeField(allow_null=True)


class AssignInput(StrictInputSerializer):
    reviewer = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)


class RemoveInput(StrictInputSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class AssignmentListCreateApi(APIView):
    @extend_schema(
        operation_id="applications_assignments_list", responses=AssignmentOutput(many=True)
    )
    def get(self, request: Request, application_id: int) -> Response:
        application = application_get_for(
            viewer=user_of(request),
            application_id=application_id,
            action=AppAction.VIEW_REVIEW_PROCESS,
        )
        return Response(
            AssignmentOutput(active_assignments(application=application), many=True).data
        )

    @extend_schema(
        operation_id="applications_assignments_create",
        request=AssignInput,
        responses={201: AssignmentOutput},
    )
    def post(self, request: Request, application_id: int) -> Response:
        user = user_of(request)
        application = application_get_for(
            viewer=user, application_id=application_id, action=AppAction.ASSIGN
        )
        data = AssignInput(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = services.reviewer_assign(
            actor=user, application_id=application.pk, reviewer_id=data.validated_data["reviewer"]
        )
        return Response(AssignmentOutput(assignment).data, status=status.HTTP_201_CREATED)


class AssignmentRemoveApi(APIView):
    @extend_schema(
        operation_id="applications_assignments_remove",
        request=RemoveInput,
        responses=AssignmentOutput,
    )
    def post(self, request: Request, application_id: int, assignment_id: int) -> Response:
        user = user_of(request)
        application = application_get_for(
            viewer=user, application_id=application_id, action=AppAction.ASSIGN
        )
        data = RemoveInput(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = application.review_assignments.filter(pk=assignment_id).first()
        if assignment is None:
            raise Http404("No such assignment on this application.")
        assignment = services.reviewer_unassign(
            actor=user, assignment_id=assignment.pk, reason=data.validated_data["reason"]
        )
        return Response(AssignmentOutput(assignment).data)


class ReviewOutput(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    reviewer = serializers.IntegerField(source="reviewer_id")
    reviewer_name = serializers.CharField(source="reviewer.full_name")
    scores = serializers.JSONField()
    weighted_score_bps = serializers.IntegerField()
    recommendation = serializers.CharField()
    recommended_amount = MoneyField(source="recommended_amount_cents", allow_null=True)
    comments = serializers.CharField()
    submitted_at = serializers.DateTimeField(source="created_at")


class ReviewInput(StrictInputSerializer):
    scores = serializers.DictField(child=serializers.JSONField())
    recommendation = serializers.ChoiceField(choices=Recommendation.choices)
    recommended_amount = MoneyField(
        required=False, allow_null=True, default=None, source="recommended_amount_cents"
    )
    comments = serializers.CharField(max_length=10_000)


class ReviewListCreateApi(APIView):
    @extend_schema(operation_id="applications_reviews_list", responses=ReviewOutput(many=True))
    def get(self, request: Request, application_id: int) -> Response:
        """Reviews the caller may read: a reviewer sees others' only after submitting their own."""
        user = user_of(request)
        application = application_get_for(
            viewer=user, application_id=application_id, action=AppAction.VIEW_CONTENT
        )
        return Response(
            ReviewOutput(reviews_visible_to(viewer=user, application=application), many=True).data
        )

    @extend_schema(
        operation_id="applications_reviews_create",
        request=ReviewInput,
        responses={201: ReviewOutput},
    )
    def post(self, request: Request, application_id: int) -> Response:
        user = user_of(request)
        application = application_get_for(
            viewer=user, application_id=application_id, action=AppAction.REVIEW
        )
        data = ReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.review_submit(
            actor=user, application_id=application.pk, **data.validated_data
        )
        return Response(ReviewOutput(review).data, status=status.HTTP_201_CREATED)


class DecisionOutput(serializers.Serializer):
    application = serializers.IntegerField(source="application_id")
    version = serializers.IntegerField()
    outcome = serializers.CharField()
    amount = MoneyField(source="amount_cents", allow_null=True)
    currency = serializers.CharField()
    reasons = serializers.CharField()
    decided_by = serializers.CharField(source="decided_by.full_name")
    decided_at = serializers.DateTimeField(source="created_at")
    voucher = serializers.IntegerField(
        source="application.voucher.pk", allow_null=True, default=None
    )


class ApproveInput(StrictInputSerializer):
    amount = MoneyField(source="amount_cents")
    reasons = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")


class RejectInput(StrictInputSerializer):
    reasons = serializers.CharField(max_length=10_000)


class ApproveApi(APIView):
    @extend_schema(
        operation_id="applications_approve", request=ApproveInput, responses={201: DecisionOutput}
    )
    def post(self, request: Request, application_id: int) -> Response:
        """Approve an amount; issues the voucher and queues the award letter (four eyes)."""
        user = user_of(request)
        application = application_get_for(
            viewer=user, application_id=application_id, action=AppAction.DECIDE
        )
        data = ApproveInput(data=request.data)
        data.is_valid(raise_exception=True)
        decision = services.application_approve(
            actor=user, application_id=application.pk, **data.validated_data
        )
        return Response(DecisionOutput(decision).data, status=status.HTTP_201_CREATED)


class RejectApi(APIView):
    @extend_schema(
        operation_id="applications_reject", request=RejectInput, responses={201: DecisionOutput}
    )
    def post(self, request: Request, application_id: int) -> Response:
        user = user_of(request)
        application = application_get_for(
            viewer=user, application_id=application_id, action=AppAction.DECIDE
        )
        data = RejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        decision = services.application_reject(
            actor=user, application_id=application.pk, reasons=data.validated_data["reasons"]
        )
        return Response(DecisionOutput(decision).data, status=status.HTTP_201_CREATED)


class DecisionApi(APIView):
    @extend_schema(operation_id="applications_decision_retrieve", responses=DecisionOutput)
    def get(self, request: Request, application_id: int) -> Response:
        """The decision, readable by the applicant and officers once it is made."""
        application = application_get_for(
            viewer=user_of(request), application_id=application_id, action=AppAction.VIEW_CONTENT
        )
        decision = (
            Decision.objects.filter(application=application).select_related("decided_by").first()
        )
        if decision is None:
            raise Http404("No decision yet.")
        return Response(DecisionOutput(decision).data)
