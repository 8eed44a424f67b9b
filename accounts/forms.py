from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.throttle import one_attempt_at_a_time
from audit.models import AuditAction
from audit.services import audit_record
from notifications.services import notification_enqueue


class SignUpForm(forms.Form):
    full_name = forms.CharField(
        label=_("Full name"),
        max_length=150,
        help_text=_("As on your identity document. You will sign declarations with it."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("Work email"),
        max_length=254,
        help_text=_("We send a confirmation link here. Use an address at your company if you can."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        help_text=_("At least 10 characters. A few unrelated words make a strong password."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_confirm = forms.CharField(
        label=_("Repeat the password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("password")
            and data.get("password_confirm")
            and data["password"] != data["password_confirm"]
        ):
            self.add_error("password_confirm", _("The two passwords are different."))
        return data


class LoginForm(auth_forms.AuthenticationForm):
    username = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    error_messages = {
        "invalid_login": _("The email or the password is not right. Passwords are case-sensitive."),
        "inactive": _("This account is disabled. Contact the program office."),
    }

    def clean(self) -> dict[str, Any]:
        # The refusal leaves the block normally: an exception would roll back the failure
        # that django-axes has just recorded, and the guess would not count.
        with one_attempt_at_a_time(self.cleaned_data.get("username")):
            try:
                return super().clean()
            except forms.ValidationError as error:
                refusal = error
        raise refusal


class OutboxPasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form, but the email goes through the outbox like every other message."""

    def save(self, *args: Any, request: Any = None, **kwargs: Any) -> None:  # type: ignore[override]
        email = self.cleaned_data["email"]
        for user in self.get_users(email):
            uid = urlsafe_base64_encode(force_bytes(user.pk))
            token = default_token_generator.make_token(user)
            link = settings.SITE_URL + reverse("accounts:password_reset_confirm", args=[uid, token])
            audit_record(
                actor=None,
                action=AuditAction.USER_PASSWORD_RESET_REQUESTED,
                target=user,
                data={"email": user.email},
            )
            notification_enqueue(
                kind="password_reset",
                recipient=user,
                recipient_email=user.email,
                language=user.preferred_language,
                template="password_reset",
                context={"user_name": user.full_name, "link": link},
            )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES)
    next = forms.CharField(required=False, max_length=2000)


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        help_text=_("Say where it will be used, e.g. “grant office integration”."),
    )


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["full_name", "preferred_language"]


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Six-digit code"),
        max_length=12,
        help_text=_("From your authenticator app. A new code appears every 30 seconds."),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "spellcheck": "false",
            }
        ),
    )

    def clean_code(self) -> str:
        code = "".join(str(self.cleaned_data["code"]).split())
        if not code.isdigit() or len(code) != 6:
            raise forms.ValidationError(_("Enter the six digits your app shows, e.g. 123 456."))
        return code


class SecondFactorResetForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        help_text=_("E.g. “phone lost, identity checked by phone call on 3 May”. Audited."),
    )
