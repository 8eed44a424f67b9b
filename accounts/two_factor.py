"""Two-factor authentication with an authenticator app (TOTP, django-otp): the rules and helpers.

The flow (views in accounts/views_2fa.py, writes in accounts/services.py):

- Login, step 1: email and password. A person with a confirmed device is *not* logged in yet:
  the session remembers a pending login for LOGIN_PENDING_SECONDS, and step 2 asks for the
  six-digit code. Only then is the person logged in, with the device recorded in the session
  (django-otp's `request.user.is_verified()`).
- Enrolment: staff (User.requires_second_factor) without a device are sent, after the password,
  to a page with a QR code and the secret; a correct code stores the device and verifies the
  session. The secret lives in the session until then: nothing is written on a GET.
- Enforcement (TWO_FACTOR_REQUIRED, accounts.middleware.SecondFactorMiddleware): a staff session
  that is not verified reaches nothing but the two-factor pages, logout and the language switch.
  API token authentication is not affected; a staff token can only be created from a verified
  session (accounts.services.api_token_create).
"""

import io
from base64 import b32encode
from binascii import unhexlify
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from accounts.models import User
from audit.models import AuditAction
from core.security import now_epoch

ACTION_ENROLLED = AuditAction.USER_OTP_ENROLLED
ACTION_VERIFIED = AuditAction.USER_OTP_VERIFIED
ACTION_FAILED = AuditAction.USER_OTP_FAILED
ACTION_RESET = AuditAction.USER_OTP_RESET
ACTION_LOCKED_OUT = AuditAction.USER_LOCKED_OUT

TOTP_STEP = 30
TOTP_DIGITS = 6
TOTP_TOLERANCE = 1  # one step either side: clocks on phones drift
PENDING_LOGIN = "_cv_2fa_pending"
ENROL_KEY = "_cv_2fa_key"


def confirmed_devices(user: User) -> Any:
    return TOTPDevice.objects.filter(user=user, confirmed=True)


def has_device(user: User) -> bool:
    return bool(user.pk) and confirmed_devices(user).exists()


def second_factor_required(user: User) -> bool:
    """Whether this person must have passed the second factor: staff while TWO_FACTOR_REQUIRED
    is on, and anyone who enrolled a device (they chose to protect their account)."""
    if settings.TWO_FACTOR_REQUIRED and user.requires_second_factor:
        return True
    return has_device(user)


def session_verified(request: HttpRequest) -> bool:
    user = request.user
    is_verified = getattr(user, "is_verified", None)
    return bool(user.is_authenticated and is_verified is not None and is_verified())


# --- Secrets, codes and QR codes --------------------------------------------------------------


def new_key() -> str:
    """A new TOTP secret (20 random bytes, hex, as django-otp stores it)."""
    return str(default_key())


def key_base32(key: str) -> str:
    """The secret as people type it into an app: base32 in groups of four."""
    text = b32encode(unhexlify(key)).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def config_url(user: User, key: str) -> str:
    """The otpauth:// URL an authenticator app reads from the QR code."""
    return str(TOTPDevice(user=user, key=key, step=TOTP_STEP, digits=TOTP_DIGITS).config_url)


def qr_svg(text: str) -> str:
    """An inline SVG QR code (no external image, nothing for the CSP to allow)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]


def code_step(key: str, code: str, *, after_step: int = -1) -> int | None:
    """The time step at which `code` is valid for `key` (within the tolerance), else None.

    `after_step` refuses codes of that step or earlier, so a code cannot be used twice.
    """
    digits = "".join(code.split())
    if not digits.isdigit() or len(digits) != TOTP_DIGITS:
        return None
    totp = TOTP(unhexlify(key), step=TOTP_STEP, digits=TOTP_DIGITS)
    totp.time = now_epoch()
    if totp.verify(int(digits), TOTP_TOLERANCE, after_step + 1):
        return int(totp.t())
    return None


def current_code(key: str, *, offset_steps: int = 0) -> str:
    """The code an authenticator app shows now (tests and the break-glass command use it)."""
    totp = TOTP(unhexlify(key), step=TOTP_STEP, digits=TOTP_DIGITS)
    totp.time = now_epoch() + offset_steps * TOTP_STEP
    return f"{totp.token():0{TOTP_DIGITS}d}"


# --- The pending login between step 1 (password) and step 2 (code) ---------------------------


@dataclass(frozen=True)
class PendingLogin:
    user: User
    backend: str
    next_url: str
    tries: int


def pending_start(request: HttpRequest, *, user: User, backend: str, next_url: str) -> None:
    request.session[PENDING_LOGIN] = {
        "user_id": user.pk,
        "backend": backend,
        "next": next_url,
        "at": now_epoch(),
        "tries": 0,
    }


def pending_get(request: HttpRequest) -> PendingLogin | None:
    """The pending login, or None when there is none or it is older than LOGIN_PENDING_SECONDS."""
    data = request.session.get(PENDING_LOGIN)
    if not isinstance(data, dict):
        return None
    if now_epoch() - int(data.get("at", 0)) > settings.TWO_FACTOR_LOGIN_PENDING_SECONDS:
        pending_clear(request)
        return None
    user = User.objects.filter(pk=int(data.get("user_id") or 0), is_active=True).first()
    if user is None:
        pending_clear(request)
        return None
    return PendingLogin(
        user=user,
        backend=str(data.get("backend", "")),
        next_url=str(data.get("next", "")),
        tries=int(data.get("tries", 0)),
    )


def pending_count_failure(request: HttpRequest) -> int:
    data = dict(request.session.get(PENDING_LOGIN) or {})
    data["tries"] = int(data.get("tries", 0)) + 1
    request.session[PENDING_LOGIN] = data
    return int(data["tries"])


def pending_clear(request: HttpRequest) -> None:
    request.session.pop(PENDING_LOGIN, None)
