"""GET /api/v1/audit-events/: the audit trail for auditors and administrators, with the same
filters and rules as the auditor's page (audit.forms, audit.portal_selectors)."""

from datetime import date
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.utils import user_of
from audit.forms import AuditSearchForm
from audit.models import AuditAction, AuditEvent
from audit.portal_selectors import audit_event_search, audit_trail_readable_by
from audit.services import audit_record
from audit.views import target_links
from core.api.pagination import PageNumberPagination
from core.exceptions import NotAllowedError


class AuditEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    action = serializers.CharField()
    action_label = serializers.CharField(source="get_action_display")
    actor = serializers.IntegerField(source="actor_id", allow_null=True)
    actor_email = serializers.CharField(source="actor_label")
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    target_label = serializers.CharField()
    target_url = serializers.SerializerMethodField(
        help_text="The web page of the target, where there is one."
    )
    # The metaclass moves declared fields out of the class, so "data" does not hide .data.
    data = serializers.JSONField(  # type: ignore[assignment]
        help_text="What changed: usually {field: {before, after}}."
    )
    stream = serializers.CharField(help_text='The hash chain, e.g. "vouchers.voucher:7".')
    seq = serializers.IntegerField(help_text="Position in the stream, from 1.")
    hash = serializers.CharField(help_text="SHA-256 of the event and the previous hash.")
    prev_hash = serializers.CharField()
    ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    request_id = serializers.CharField()

    def get_target_url(self, event: AuditEvent) -> str | None:
        links = target_links(event)
        return links[0][1] if links else None


def _invalid(form: AuditSearchForm) -> ValidationError:
    """The form's errors with their codes: one bad filter answers with its own code."""
    return ValidationError(
        {
            name: [ErrorDetail(error["message"], code=error["code"]) for error in errors]
            for name, errors in form.errors.get_json_data().items()
        }
    )


class AuditEventListApi(GenericAPIView):
    """Search the audit trail, newest first (auditors and administrators)."""

    pagination_class = PageNumberPagination
    serializer_class = AuditEventOutput

    @extend_schema(
        operation_id="audit_events_list",
        parameters=[
            OpenApiParameter("actor", str, description="The actor's email contains this."),
            OpenApiParameter("action", str, enum=AuditAction.values),
            OpenApiParameter(
                "target_type", str, description='A model label, e.g. "vouchers.voucher".'
            ),
            OpenApiParameter("target_id", str, description="With target_type: one object."),
            OpenApiParameter("target", str, description="The target's name contains this."),
            OpenApiParameter("stream", str, description='One chain: "vouchers.voucher:7".'),
            OpenApiParameter(
                "date_from", date, description="First day, in the program's time zone."
            ),
            OpenApiParameter(
                "date_to", date, description="Last day (included), in the program's time zone."
            ),
        ],
        responses=AuditEventOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        user = user_of(request)
        if not audit_trail_readable_by(user):
            audit_record(
                actor=user, action=AuditAction.PERMISSION_DENIED, data={"attempted": "audit.read"}
            )
            raise NotAllowedError(_("The audit trail is for auditors and administrators."))
        form = AuditSearchForm(request.query_params)
        if not form.is_valid():
            raise _invalid(form)
        page: Any = self.paginate_queryset(audit_event_search(**form.filters()))
        return self.get_paginated_response(AuditEventOutput(page, many=True).data)
