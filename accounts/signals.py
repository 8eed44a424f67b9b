"""Audit every login, failed login, logout and lockout (django.contrib.auth and axes signals);
start the session timeout clocks at login."""

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.dispatch import receiver

from accounts import two_factor
from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_record
from core.security import session_mark_login


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        session_mark_login(request.session)
    second_factor = getattr(user, "otp_device", None) is not None
    audit_record(
        actor=user,
        action=AuditAction.USER_LOGIN,
        target=user,
        data={"second_factor": True} if second_factor else None,
    )


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        reason = getattr(request, "logout_reason", None)  # set by SessionTimeoutMiddleware
        audit_record(
            actor=user,
            action=AuditAction.USER_LOGOUT,
            target=user,
            data={"reason": reason} if reason else None,
        )


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    email = str(credentials.get("username") or credentials.get("email") or "")[:254]
    user = User.objects.filter(email__iexact=email.strip()).first() if email else None
    audit_record(
        actor=None,
        action=AuditAction.USER_LOGIN_FAILED,
        target=user,
        stream=None if user else "accounts.login_unknown",
        data={"email": email},
        target_label=email,
    )


@receiver(user_locked_out)
def _locked_out(
    sender: Any, request: Any, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    """django-axes locked an email and address pair out: worth its own event."""
    from axes.helpers import get_cool_off

    email = str(username or "")[:254]
    user = User.objects.filter(email__iexact=email.strip()).first() if email else None
    cool_off = get_cool_off(request)
    with transaction.atomic():
        audit_record(
            actor=None,
            action=two_factor.ACTION_LOCKED_OUT,
            target=user,
            stream=None if user else "accounts.login_unknown",
            data={
                "event": "locked_out",
                "email": email,
                "ip": ip_address,
                "cool_off_seconds": int(cool_off.total_seconds()) if cool_off else None,
            },
            target_label=email,
        )
