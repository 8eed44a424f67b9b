"""Login throttling (django-axes): lockout page, cool-off (clock moved by hand), audit, scope."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tests.security.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _attempt(client: Client, email: str, password: str, ip: str = "10.0.0.1"):
    return client.post(
        reverse("accounts:login"), {"username": email, "password": password}, REMOTE_ADDR=ip
    )


def _page(response) -> str:
    """The page without its per-response CSRF token."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def test_lockout_after_the_limit_with_a_clear_page(client, settings, applicant):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _attempt(client, applicant.email, "wrong-password").status_code == 200
    locked = _attempt(client, applicant.email, "wrong-password")
    assert locked.status_code == 429
    body = locked.content.decode()
    minutes = int(settings.AXES_COOLOFF_TIME * 60)
    assert "Too many failed attempts" in body and f"{minutes} minutes" in body
    assert locked["Retry-After"] == str(minutes * 60)
    # Even the right password is refused during the lockout, and nobody is logged in.
    right = _attempt(client, applicant.email, PASSWORD)
    assert right.status_code == 429 and "_auth_user_id" not in client.session


def test_lockout_is_audited(client, settings, applicant):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _attempt(client, applicant.email, "wrong-password")
    events = [
        e for e in AuditEvent.objects.filter(target_id=str(applicant.pk)) if e.data.get("event")
    ]
    locked = [e for e in events if e.data["event"] == "locked_out"]
    assert len(locked) == 1
    assert locked[0].data["email"] == applicant.email
    assert locked[0].data["cool_off_seconds"] == int(settings.AXES_COOLOFF_TIME * 3600)
    assert locked[0].ip == "10.0.0.1"


def test_cool_off_ends_the_lockout(client, clock, settings, applicant):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _attempt(client, applicant.email, "wrong-password")
    clock.advance(minutes=5)
    assert _attempt(client, applicant.email, PASSWORD).status_code == 429
    # More attempts during the lockout do not extend it.
    assert _attempt(client, applicant.email, "wrong-again").status_code == 429
    clock.advance(hours=settings.AXES_COOLOFF_TIME, seconds=1)
    ok = _attempt(client, applicant.email, PASSWORD)
    assert ok.status_code == 302 and client.session["_auth_user_id"] == str(applicant.pk)


def test_an_attacker_elsewhere_does_not_lock_the_victim_out(client, settings, applicant):
    attacker = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT + 3):
        _attempt(attacker, applicant.email, "guess", ip="203.0.113.9")
    assert _attempt(attacker, applicant.email, PASSWORD, ip="203.0.113.9").status_code == 429
    ok = _attempt(client, applicant.email, PASSWORD, ip="198.51.100.20")
    assert ok.status_code == 302


def test_unknown_accounts_get_the_same_answers(client, settings, applicant):
    """No account enumeration: an unknown email fails and locks exactly like a known one."""
    known = _page(_attempt(client, applicant.email, "wrong-password"))
    unknown = _page(_attempt(client, "nobody@example.com", "wrong-password"))
    assert known.replace(applicant.email, "X") == unknown.replace("nobody@example.com", "X")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        last = _attempt(client, "nobody@example.com", "wrong-password")
    assert last.status_code == 429


def test_token_endpoint_is_throttled_too_and_answers_json(settings, applicant):
    api = APIClient(REMOTE_ADDR="10.0.0.7")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api.post(
            "/api/v1/auth/token/", {"email": applicant.email, "password": "bad"}, format="json"
        )
    locked = api.post(
        "/api/v1/auth/token/", {"email": applicant.email, "password": PASSWORD}, format="json"
    )
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "locked_out"
