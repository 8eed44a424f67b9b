"""Production settings: `check --deploy` is clean, cookies and headers are strict (W4)."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
    "DJANGO_ALLOWED_HOSTS": "example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/compute_vouchers",
}
DUMP = """
import json, django
django.setup()
from django.conf import settings as s
names = [
    "DEBUG", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
    "SESSION_COOKIE_NAME", "SESSION_COOKIE_AGE", "CSRF_COOKIE_SECURE", "CSRF_COOKIE_SAMESITE",
    "CSRF_COOKIE_NAME", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD", "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER",
    "SECURE_CONTENT_TYPE_NOSNIFF", "SECURE_REFERRER_POLICY", "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "X_FRAME_OPTIONS", "CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY",
    "TWO_FACTOR_REQUIRED", "SESSION_IDLE_TIMEOUT", "SESSION_ABSOLUTE_TIMEOUT", "MIDDLEWARE",
]
print(json.dumps({n: getattr(s, n) for n in names}))
"""


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    return subprocess.run(  # noqa: S603
        [sys.executable, *args],
        cwd=ROOT,
        env={**clean, **PRODUCTION_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def production() -> dict[str, Any]:
    result = _run("-c", DUMP)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_is_clean_with_nothing_silenced():
    result = _run("manage.py", "check", "--deploy", "--fail-level", "DEBUG")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output, output


def test_check_deploy_warns_when_a_control_is_switched_off():
    result = _run(
        "manage.py",
        "check",
        "--deploy",
        env={
            "DJANGO_TWO_FACTOR_REQUIRED": "0",
            "DJANGO_CSP_REPORT_ONLY": "1",
            "DJANGO_SESSION_IDLE_TIMEOUT": "0",
        },
    )
    output = result.stdout + result.stderr
    for check_id in ("cv.W002", "cv.W003", "cv.W004"):
        assert check_id in output, output


def test_production_cookies_are_secure_httponly_samesite_host_prefixed(production):
    assert production["DEBUG"] is False
    assert production["SESSION_COOKIE_SECURE"] and production["CSRF_COOKIE_SECURE"]
    assert production["SESSION_COOKIE_HTTPONLY"] is True
    assert production["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert production["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert production["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert production["CSRF_COOKIE_NAME"].startswith("__Host-")
    assert production["SESSION_COOKIE_AGE"] <= production["SESSION_ABSOLUTE_TIMEOUT"]


def test_production_transport_and_header_settings(production):
    assert production["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert production["SECURE_HSTS_INCLUDE_SUBDOMAINS"] and production["SECURE_HSTS_PRELOAD"]
    assert production["SECURE_SSL_REDIRECT"] is True
    assert production["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert production["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert production["X_FRAME_OPTIONS"] == "DENY"
    assert production["SECURE_REFERRER_POLICY"] == "same-origin"
    assert production["SECURE_CROSS_ORIGIN_OPENER_POLICY"] == "same-origin"
    assert production["CONTENT_SECURITY_POLICY"]["script-src"] == ["'self'"]
    assert production["CONTENT_SECURITY_POLICY_REPORT_ONLY"] is False
    assert production["TWO_FACTOR_REQUIRED"] is True
    for name in [
        "core.middleware.ContentSecurityPolicyMiddleware",
        "core.middleware.SessionTimeoutMiddleware",
        "accounts.middleware.SecondFactorMiddleware",
        "axes.middleware.AxesMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ]:
        assert name in production["MIDDLEWARE"], name


@pytest.mark.django_db
def test_cookies_sent_with_production_values(client, settings, production, applicant):
    """The Set-Cookie headers a browser gets when the production values are in force."""
    for name in [
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "SESSION_COOKIE_NAME",
        "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_SAMESITE",
        "CSRF_COOKIE_NAME",
    ]:
        setattr(settings, name, production[name])
    page = client.get(reverse("accounts:login"), secure=True)
    csrf = page.cookies[production["CSRF_COOKIE_NAME"]]
    assert csrf["secure"] and csrf["samesite"] == "Lax" and csrf["path"] == "/"
    assert not csrf["domain"]
    client.cookies[production["CSRF_COOKIE_NAME"]] = csrf.value
    response = client.post(
        reverse("accounts:login"),
        {"username": applicant.email, "password": "correct-horse-battery"},
        secure=True,
    )
    assert response.status_code == 302
    session = response.cookies[production["SESSION_COOKIE_NAME"]]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    assert session["path"] == "/" and not session["domain"]
