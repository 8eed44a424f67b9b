"""Audit every login, failed login and logout (django.contrib.auth signals)."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_record


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    audit_record(actor=user, action=AuditAction.USER_LOGIN, target=user)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        audit_record(actor=user, action=AuditAction.USER_LOGOUT, target=user)


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
