"""Account writes: registration, email verification, language, API tokens."""

from datetime import datetime

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

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
    *, user: User, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token and return it with its value, which is never retrievable again."""
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
