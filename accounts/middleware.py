from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import translation


class UserLanguageMiddleware:
    """A signed-in person sees the language they chose, on every device and in every email.

    Runs after LocaleMiddleware and AuthenticationMiddleware; anonymous visitors keep the
    cookie / Accept-Language choice that LocaleMiddleware made.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            language = user.preferred_language
            if language and language != getattr(request, "LANGUAGE_CODE", None):
                translation.activate(language)
                request.LANGUAGE_CODE = language
        response = self.get_response(request)
        return response


class SecondFactorMiddleware:
    """Staff must pass the second factor before anything else works (TWO_FACTOR_REQUIRED).

    A signed-in staff session that is not verified by django-otp reaches only the second-factor
    page, logout and the language switch: pages redirect there, session-authenticated API calls
    get a 403 `second_factor_required`. Token-authenticated API calls carry no session and pass
    (tokens are issued to verified sessions only). Django admin's own login form is replaced by
    ours, which asks for the code, whatever the setting.
    """

    ALLOWED_VIEWS = frozenset(
        {
            "accounts:second_factor",
            "accounts:login",
            "accounts:login_code",
            "accounts:logout",
            "accounts:set_language",
            "healthz",
            "api-docs",  # public documentation
            "api-schema",
        }
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        from django.conf import settings
        from django.shortcuts import redirect
        from django.urls import reverse
        from django.utils.http import urlencode
        from django.utils.translation import gettext as _

        from core.api.errors import json_error_response

        match = request.resolver_match
        view_name = match.view_name if match else ""
        # The admin's form would log in without the code: anonymous visitors, and any POST, go
        # to ours (a signed-in non-staff person still sees the admin's "not authorised" page).
        if view_name == "admin:login" and (
            request.method == "POST" or not request.user.is_authenticated
        ):
            next_url = request.GET.get("next") or reverse("admin:index")
            return redirect(f"{reverse('accounts:login')}?{urlencode({'next': next_url})}")
        if not settings.TWO_FACTOR_REQUIRED or view_name in self.ALLOWED_VIEWS:
            return None
        user = request.user
        if not user.is_authenticated or not getattr(user, "requires_second_factor", False):
            return None
        if user.is_verified():  # type: ignore[union-attr,attr-defined]  # set by django-otp
            return None
        if request.path.startswith("/api/"):
            return json_error_response(
                "second_factor_required",
                _(
                    "Confirm your login with your authenticator app in the browser first, "
                    "or use an API token."
                ),
                403,
            )
        target = reverse("accounts:second_factor")
        return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
