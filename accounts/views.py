from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import two_factor
from accounts.forms import (
    ApiTokenForm,
    LanguageForm,
    LoginForm,
    OutboxPasswordResetForm,
    SignUpForm,
)
from accounts.models import ApiToken
from accounts.services import (
    api_token_create,
    api_token_revoke,
    user_register,
    user_send_verification,
    user_set_language,
    user_verify_email,
)
from accounts.utils import user_of
from core.exceptions import DomainError, NotAllowedError
from core.forms import add_domain_error
from core.views import posted, safe_next


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            user = user_register(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                full_name=form.cleaned_data["full_name"],
                language=request.LANGUAGE_CODE,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                _(
                    "Welcome! We sent a confirmation link to %(email)s. You can start your "
                    "application now and submit it once your email is confirmed."
                )
                % {"email": user.email},
            )
            return redirect("applicants:dashboard")
    return render(request, "accounts/signup.html", {"form": form})


class LoginView(auth_views.LoginView):
    """Step 1: email and password. Someone with an authenticator app goes on to step 2
    (accounts.two_factor_views.login_code) and is logged in only there."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        if two_factor.has_device(user):
            two_factor.pending_start(
                self.request, user=user, backend=user.backend, next_url=self.get_redirect_url()
            )
            return redirect("accounts:login_code")
        return super().form_valid(form)


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user = user_verify_email(token=token)
    except DomainError as exc:
        return render(request, "accounts/verify_failed.html", {"message": exc.message}, status=400)
    messages.success(request, _("Thank you, %(email)s is confirmed.") % {"email": user.email})
    return redirect("applicants:dashboard" if request.user.is_authenticated else "accounts:login")


@login_required
@require_POST
def resend_verification(request: HttpRequest) -> HttpResponse:
    user_send_verification(user=user_of(request))
    messages.info(
        request,
        _("We sent a new confirmation link to %(email)s.") % {"email": user_of(request).email},
    )
    return _redirect_back(request, reverse("applicants:dashboard"))


def _redirect_back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next") or request.META.get("HTTP_REFERER")
    return HttpResponseRedirect(safe_next(request, target, default))


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the interface language; for a signed-in person, remember it on the account."""
    form = LanguageForm(request.POST)
    response = _redirect_back(request, reverse("home"))
    if form.is_valid():
        language = form.cleaned_data["language"]
        if request.user.is_authenticated:
            user_set_language(user=user_of(request), language=language)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


@login_required
def account_settings(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(posted(request))
    new_token: str | None = None
    if request.method == "POST" and form.is_valid():
        try:
            _token, new_token = api_token_create(
                user=user_of(request),
                name=form.cleaned_data["name"],
                otp_verified=two_factor.session_verified(request),
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=user_of(request)).select_related("provider")
    context = {
        "form": form,
        "tokens": tokens,
        "new_token": new_token,
        "has_second_factor": two_factor.has_device(user_of(request)),
    }
    return render(request, "accounts/settings.html", context)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        api_token_revoke(actor=user_of(request), token_id=token_id)
    except NotAllowedError:
        raise  # someone else's token: a 403 page, not a message on one's own settings
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("The token was revoked. Scripts and systems using it can no longer connect.")
        )
    return redirect("accounts:settings")


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    form_class = OutboxPasswordResetForm
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        from audit.models import AuditAction
        from audit.services import audit_record

        response = super().form_valid(form)
        audit_record(
            actor=form.user,
            action=AuditAction.USER_PASSWORD_CHANGED,
            target=form.user,
            data={"via": "reset link"},
        )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:settings")

    def form_valid(self, form: Any) -> HttpResponse:
        from audit.models import AuditAction
        from audit.services import audit_record

        response = super().form_valid(form)
        audit_record(
            actor=user_of(self.request),
            action=AuditAction.USER_PASSWORD_CHANGED,
            target=user_of(self.request),
            data={"via": "settings"},
        )
        messages.success(self.request, _("Your password was changed."))
        return response
