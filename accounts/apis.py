from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_revoke, user_register
from accounts.throttle import one_attempt_at_a_time
from accounts.utils import user_of
from core.api.serializers import StrictInputSerializer


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    role = serializers.CharField()
    preferred_language = serializers.CharField()
    email_verified = serializers.BooleanField(source="has_verified_email")


class RegisterInput(StrictInputSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=200, trim_whitespace=False)
    full_name = serializers.CharField(max_length=150)
    language = serializers.ChoiceField(choices=["en", "zh-hans"], default="en")


class RegisterApi(APIView):
    """Create an applicant account. A confirmation link is emailed; submit needs it confirmed."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        operation_id="auth_register", request=RegisterInput, responses={201: UserOutput}, auth=[]
    )
    def post(self, request: Request) -> Response:
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_register(**data.validated_data)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class TokenCreateInput(StrictInputSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=200, trim_whitespace=False)
    name = serializers.CharField(max_length=100, required=False, default="API token")


class TokenOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class TokenCreatedOutput(TokenOutput):
    token = serializers.CharField(
        help_text="Shown once. Send it as `Authorization: Token <value>`."
    )


class TokenCreateApi(APIView):
    """Exchange an email and password for an API token (throttled; locked after failures)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    def get_authenticate_header(self, request: Request) -> str:
        return 'Token realm="api"'  # a wrong password is 401, not 403

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenCreateInput,
        responses={201: TokenCreatedOutput},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = TokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        with one_attempt_at_a_time(data.validated_data["email"]):
            user = authenticate(
                request._request,
                username=data.validated_data["email"],
                password=data.validated_data["password"],
            )
        if user is None:
            raise AuthenticationFailed(_("The email or the password is not right."))
        token, raw = api_token_create(user=user, name=data.validated_data["name"])
        body = dict(TokenOutput(token).data)
        body["token"] = raw
        return Response(body, status=status.HTTP_201_CREATED)


class TokenListApi(APIView):
    @extend_schema(operation_id="auth_tokens_list", responses=TokenOutput(many=True))
    def get(self, request: Request) -> Response:
        return Response(TokenOutput(ApiToken.objects.filter(user=user_of(request)), many=True).data)


class TokenRevokeApi(APIView):
    @extend_schema(operation_id="auth_tokens_revoke", responses={204: None})
    def delete(self, request: Request, token_id: int) -> Response:
        api_token_revoke(actor=user_of(request), token_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(operation_id="me_retrieve", responses=UserOutput)
    def get(self, request: Request) -> Response:
        user = user_of(request)
        return Response(UserOutput(user).data)
