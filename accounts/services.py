"""Account writes: registration, email verification, language, API tokens, second factor."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from accounts.models import ApiToken, User, hash_token, new_token_value, normalize_email
from audit.models import AuditAction
from audit.services import audit_record
from core.exceptions import ConflictError, DomainError, NotAllowedError
from notifications.services import notification_enqueue

VERIFY_SALT = "accounts.email-verification"


@transaction.atomic
def user_register(*, email: str, password: str, full_name: str, language: str = "en") -> User:
    """Create an applicant account and send the verification email (after commit)."""
    email = normalize_email(email)
    full_name = full_name.strip()
    if not full_name:
        raise DomainError(
            _("Enter your name."), code="required", fields={"full_name": [_("Enter your name.")]}
        )
    if User.objects.filter(email__iexact=email).exists():
        raise ConflictError(
            _(
                "An account with this email already exists. "
                "Log in, or reset your password if you forgot it."
            ),
            code="email_taken",
            fields={"email": [_("An account with this email already exists.")]},
        )
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    user = User(
        email=email, full_name=full_name, preferred_language=language, role=User.Role.APPLICANT
    )
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise DomainError(
            " ".join(exc.messages), code="weak_password", fields={"password": exc.messages}
        ) from exc
    user.set_password(password)
    user.full_clean(exclude=["password"])
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent sign-up with the same email won the race
        raise ConflictError(
            _("An account with this email already exists."), code="email_taken"
        ) from exc
    audit_record(actor=user, action=AuditAction.USER_REGISTERED, target=user, data={"email": email})
    user_send_verification(user=user)
    return user


def verification_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "e": user.email}, salt=VERIFY_SALT)


@transaction.atomic(savepoint=False)
def user_send_verification(*, user: User) -> None:
    """Queue the 'confirm your email' message. Does nothing for an already verified address."""
    if user.has_verified_email:
        return
    link = settings.SITE_URL + reverse("accounts:verify_email", args=[verification_token(user)])
    notification_enqueue(
        kind="email_verification",
        recipient=user,
        recipient_email=user.email,
        language=user.preferred_language,
        template="verify_email",
        context={
            "user_name": user.full_name,
            "link": link,
            "hours": settings.EMAIL_VERIFICATION_MAX_AGE // 3600,
        },
    )


@transaction.atomic
def user_verify_email(*, token: str) -> User:
    """Confirm an address from the emailed link. Verifying twice is a no-op."""
    try:
        payload = signing.loads(
            token, salt=VERIFY_SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE
        )
    except signing.SignatureExpired as exc:
        raise DomainError(
            _("This link has expired. Log in and ask for a new one."), code="link_expired"
        ) from exc
    except signing.BadSignature as exc:
        raise DomainError(
            _("This link is not valid. Check that you copied all of it."), code="link_invalid"
        ) from exc
    user = User.objects.select_for_update().filter(pk=payload.get("u")).first()
    if user is None or user.email != payload.get("e"):
        raise DomainError(_("This link is not valid any more."), code="link_invalid")
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
        audit_record(actor=user, action=AuditAction.USER_EMAIL_VERIFIED, target=user)
    return user


@transaction.atomic
def user_set_language(*, user: User, language: str) -> User:
    if language not in dict(settings.LANGUAGES):
        raise DomainError(_("That language is not available."), code="invalid_language")
    if user.preferred_language != language:
        before = user.preferred_language
        user.preferred_language = language
        user.save(update_fields=["preferred_language"])
        audit_record(
            actor=user,
            action=AuditAction.USER_LANGUAGE_CHANGED,
            target=user,
            data={"language": {"before": before, "after": language}},
        )
    return user


@transaction.atomic
def api_token_create(
    *, user: User, name: str, expires_at: datetime | None = None, otp_verified: bool = False
) -> tuple[ApiToken, str]:
    """Create a token and return it with its value, which is never retrievable again.

    A token skips the second factor, so someone who must use one (staff while TWO_FACTOR_REQUIRED,
    anyone with a device) gets a token only from a session that passed it: `otp_verified`.
    """
    if not otp_verified and two_factor.second_factor_required(user):
        raise NotAllowedError(
            _(
                "Create this token on your account page after logging in with your "
                "authenticator app: accounts that use a second factor cannot get a token "
                "with a password alone."
            ),
            code="second_factor_required",
        )
    name = name.strip() or _("API token")
    from disbursement.policies import provider_of  # disbursement builds on accounts

    raw = new_token_value()
    token = ApiToken(
        provider=provider_of(user),
        user=user,
        name=name[:100],
        prefix=raw[:10],
        key_hash=hash_token(raw),
        expires_at=expires_at,
    )
    token.full_clean()
    token.save()
    audit_record(
        actor=user,
        action=AuditAction.TOKEN_CREATED,
        target=token,
        data={"name": token.name, "prefix": token.prefix},
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: User, token_id: int) -> ApiToken:
    """Revoke a token. Revoking a revoked token is a no-op that returns it."""
    token = ApiToken.objects.select_for_update().filter(pk=token_id).first()
    if token is None or (token.user_id != actor.pk and not actor.is_superuser):
        raise NotAllowedError(_("That token does not exist."), code="not_found")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.TOKEN_REVOKED,
            target=token,
            data={"prefix": token.prefix},
        )
    return token


# --- Two-factor authentication (see accounts/two_factor.py for the flow) ----------------------


@dataclass(frozen=True)
class CodeCheck:
    """The outcome of a code: the device that accepted it, or why not."""

    device: TOTPDevice | None
    wait_seconds: int = 0  # > 0: too many wrong codes, try again after this many seconds


@transaction.atomic
def otp_device_confirm(*, user: User, key: str, code: str) -> TOTPDevice | None:
    """Enrol an authenticator app: store a confirmed device for `key` if `code` matches it.

    A wrong code writes only an audit event and returns None. A person can have one device;
    replacing it goes through an administrator's reset (otp_device_reset).
    """
    User.objects.select_for_update().get(pk=user.pk)  # two tabs confirming at once: one device
    if two_factor.has_device(user):
        raise ConflictError(
            _("You already have an authenticator app. Ask an administrator to reset it first."),
            code="device_exists",
        )
    step = two_factor.code_step(key, code)
    if step is None:
        audit_record(
            actor=user,
            action=two_factor.ACTION_FAILED,
            target=user,
            data={"event": "second_factor_failed", "during": "enrolment"},
        )
        return None
    device = TOTPDevice(
        user=user,
        name=str(_("Authenticator app"))[:64],
        key=key,
        step=two_factor.TOTP_STEP,
        digits=two_factor.TOTP_DIGITS,
        tolerance=two_factor.TOTP_TOLERANCE,
        confirmed=True,
        last_t=step,  # the enrolment code cannot be used again to log in
    )
    device.full_clean()
    device.save()
    audit_record(
        actor=user,
        action=two_factor.ACTION_ENROLLED,
        target=user,
        data={"event": "second_factor_enrolled", "device": device.persistent_id},
    )
    return device


@transaction.atomic
def otp_verify(*, user: User, code: str, during: str = "login") -> CodeCheck:
    """Check a code from the person's authenticator app; audited either way.

    A code is accepted once (a replayed code fails). Wrong codes slow further attempts down
    (django-otp throttling: 1, 2, 4, 8 ... seconds); while throttled, no code is checked.
    """
    # Lock the devices: two requests with the same code must not both be accepted.
    devices = list(two_factor.confirmed_devices(user).select_for_update().order_by("pk"))
    wait = 0
    for device in devices:
        allowed, details = device.verify_is_allowed()
        if not allowed:
            wait = max(wait, _throttle_wait(device))
            continue
        step = two_factor.code_step(device.key, code, after_step=device.last_t)
        if step is not None:
            device.last_t = step
            device.throttle_reset(commit=False)
            device.set_last_used_timestamp(commit=False)
            device.save()
            audit_record(
                actor=user,
                action=two_factor.ACTION_VERIFIED,
                target=user,
                data={"event": "second_factor_passed", "during": during},
            )
            return CodeCheck(device=device)
        device.throttle_increment(commit=True)
    audit_record(
        actor=None,
        action=two_factor.ACTION_FAILED,
        target=user,
        data={
            "event": "second_factor_failed",
            "during": during,
            "email": user.email,
            "throttled": bool(wait),
        },
    )
    return CodeCheck(device=None, wait_seconds=wait)


def _throttle_wait(device: TOTPDevice) -> int:
    if device.throttling_failure_timestamp is None:
        return 0
    delay = device.get_throttle_factor() * (2 ** (device.throttling_failure_count - 1))
    elapsed = (timezone.now() - device.throttling_failure_timestamp).total_seconds()
    return max(1, int(delay - elapsed + 0.999))


@transaction.atomic
def otp_device_reset(*, actor: User | None, user_id: int, reason: str) -> int:
    """An administrator removes a person's authenticator app (lost or replaced phone).

    The person's sessions end too, so a session opened with the old device cannot enrol a new
    one; at their next login they enrol again. Returns the number of devices removed (0 is a
    no-op, still audited). Administrators cannot reset their own device: another one must.
    `actor=None` is the operator at the server console (manage.py reset_second_factor), for
    when no other administrator can log in.
    """
    if actor is not None and not (actor.role == User.Role.ADMIN or actor.is_superuser):
        raise NotAllowedError(_("Only an administrator can reset a second factor."))
    if actor is not None and actor.pk == user_id:
        raise NotAllowedError(
            _("Ask another administrator to reset your own second factor."), code="own_device"
        )
    reason = reason.strip()
    if not reason:
        raise DomainError(_("Say why the second factor is reset."), code="reason_required")
    user = User.objects.select_for_update().get(pk=user_id)
    removed, _by_model = TOTPDevice.objects.filter(user=user).delete()
    sessions = _end_sessions(user)
    audit_record(
        actor=actor,
        action=two_factor.ACTION_RESET,
        target=user,
        data={
            "event": "second_factor_reset",
            "devices_removed": removed,
            "sessions_ended": sessions,
            "reason": reason[:500],
            "via": "admin" if actor is not None else "manage.py",
        },
    )
    return int(removed)


def _end_sessions(user: User) -> int:
    """Delete the database sessions of `user` (the session engine used here)."""
    from django.contrib.sessions.models import Session

    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended
