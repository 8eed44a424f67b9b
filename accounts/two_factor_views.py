"""Pages of the second factor: login step 2, enrolment, verifying a session, and the lockout page.

The rules and the flow are described in accounts/two_factor.py.
"""

from typing import Any

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from accounts import two_factor
from accounts.forms import CodeForm
from accounts.services import CodeCheck, otp_device_confirm, otp_verify
from accounts.utils import user_of
from core.api.errors import json_error_response
from core.exceptions import DomainError
from core.forms import add_domain_error
from core.views import posted, safe_next

SESSION_TRIES = "_cv_2fa_tries"


def _code_error(check: CodeCheck) -> str:
    if check.wait_seconds:
        return ngettext(
            "Too many wrong codes. Wait %(seconds)d second, then enter the current code.",
            "Too many wrong codes. Wait %(seconds)d seconds, then enter the current code.",
            check.wait_seconds,
        ) % {"seconds": check.wait_seconds}
    return _(
        "That code is not right. Enter the six digits your app shows now; each code works once."
    )


def _count_axes_failure(request: HttpRequest, email: str) -> None:
    """A wrong code counts like a wrong password towards django-axes' lockout."""
    from axes.handlers.proxy import AxesProxyHandler

    AxesProxyHandler.user_login_failed(
        sender=login_code, credentials={"username": email}, request=request
    )


def _axes_allows(request: HttpRequest, email: str) -> bool:
    from axes.handlers.proxy import AxesProxyHandler

    return bool(AxesProxyHandler.is_allowed(request, {"username": email}))


@never_cache
@sensitive_post_parameters("code")
def login_code(request: HttpRequest) -> HttpResponse:
    """Login, step 2: the code from the authenticator app of the person who gave the password."""
    pending = two_factor.pending_get(request)
    if pending is None:
        messages.info(request, _("Log in with your email and password first."))
        return redirect("accounts:login")
    if not _axes_allows(request, pending.user.email):
        two_factor.pending_clear(request)
        return locked_out(request)
    form = CodeForm(posted(request))
    if request.method == "POST" and form.is_valid():
        check = otp_verify(user=pending.user, code=form.cleaned_data["code"], during="login")
        if check.device is not None:
            two_factor.pending_clear(request)
            user = pending.user
            user.otp_device = check.device  # type: ignore[attr-defined]  # django-otp keeps it
            login(request, user, backend=pending.backend)
            default = resolve_url(settings.LOGIN_REDIRECT_URL)
            return HttpResponseRedirect(safe_next(request, pending.next_url, default))
        if not check.wait_seconds:
            _count_axes_failure(request, pending.user.email)
            if getattr(request, "axes_locked_out", False):
                two_factor.pending_clear(request)
                return locked_out(request)
        if two_factor.pending_count_failure(request) >= settings.TWO_FACTOR_MAX_TRIES:
            two_factor.pending_clear(request)
            messages.error(request, _("Too many wrong codes. Log in again."))
            return redirect("accounts:login")
        form.add_error("code", _code_error(check))
    return render(request, "accounts/login_code.html", {"form": form})


@never_cache
@login_required
@sensitive_post_parameters("code")
def second_factor(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app, or verify this session with it, or show that it is set up."""
    user = user_of(request)
    default = resolve_url(settings.LOGIN_REDIRECT_URL)
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"), default)
    form = CodeForm(posted(request))
    context: dict[str, Any] = {"form": form, "next": next_url}
    if two_factor.has_device(user):
        if two_factor.session_verified(request):
            return render(request, "accounts/second_factor.html", {**context, "mode": "done"})
        if request.method == "POST" and form.is_valid():
            check = otp_verify(user=user, code=form.cleaned_data["code"], during="session")
            if check.device is not None:
                request.session.pop(SESSION_TRIES, None)
                django_otp.login(request, check.device)
                return HttpResponseRedirect(next_url)
            tries = int(request.session.get(SESSION_TRIES, 0)) + 1
            request.session[SESSION_TRIES] = tries
            if tries >= settings.TWO_FACTOR_MAX_TRIES:
                logout(request)
                messages.error(request, _("Too many wrong codes. Log in again."))
                return redirect("accounts:login")
            form.add_error("code", _code_error(check))
        return render(request, "accounts/second_factor.html", {**context, "mode": "verify"})
    key = request.session.get(two_factor.ENROL_KEY)
    if not key:
        key = request.session[two_factor.ENROL_KEY] = two_factor.new_key()
    if request.method == "POST" and form.is_valid():
        try:
            device = otp_device_confirm(user=user, key=key, code=form.cleaned_data["code"])
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if device is not None:
                request.session.pop(two_factor.ENROL_KEY, None)
                django_otp.login(request, device)
                messages.success(
                    request,
                    _("Your authenticator app is set up. You will need it each time you log in."),
                )
                return HttpResponseRedirect(next_url)
            form.add_error(
                "code",
                _(
                    "That code is not right. Check that you scanned the code on this page, "
                    "then try again."
                ),
            )
    context.update(
        mode="enrol",
        qr=two_factor.qr_svg(two_factor.config_url(user, key)),
        secret=two_factor.key_base32(key),
        required=settings.TWO_FACTOR_REQUIRED and user.requires_second_factor,
    )
    return render(request, "accounts/second_factor.html", context)


def locked_out(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): 429, saying how long it lasts."""
    from axes.helpers import get_cool_off

    cool_off = get_cool_off(request)
    minutes = max(1, int(cool_off.total_seconds() // 60)) if cool_off else 0
    message = ngettext(
        "Too many failed attempts. Logging in to this account from here is paused for "
        "%(minutes)d minute.",
        "Too many failed attempts. Logging in to this account from here is paused for "
        "%(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
    if request.path.startswith("/api/"):
        response: HttpResponse = json_error_response("locked_out", message, 429)
    else:
        response = render(request, "accounts/locked_out.html", {"minutes": minutes}, status=429)
    if minutes:
        response["Retry-After"] = str(minutes * 60)
    return response
