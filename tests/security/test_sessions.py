"""Sessions: idle and absolute timeouts (clock moved by hand), rotation at login, logout."""

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from tests.security.conftest import login

pytestmark = pytest.mark.django_db


def _logout_reasons(user) -> list[str | None]:
    return [
        e.data.get("reason")
        for e in AuditEvent.objects.filter(target_id=str(user.pk), action="user.logout")
    ]


def _signed_in(client: Client) -> bool:
    return client.get("/api/v1/me/").status_code == 200


def test_idle_timeout_logs_out_after_inactivity(client, clock, settings, applicant):
    settings.SESSION_IDLE_TIMEOUT = 30 * 60
    login(client, applicant)
    clock.advance(minutes=29)
    assert _signed_in(client)  # activity: the idle clock starts again here
    clock.advance(minutes=29)
    assert _signed_in(client)
    clock.advance(minutes=30, seconds=1)
    page = client.get(reverse("applicants:dashboard"))
    assert page.status_code == 302 and page["Location"].startswith(reverse("accounts:login"))
    assert not _signed_in(client)
    assert _logout_reasons(applicant) == ["idle_timeout"]
    follow = client.get(reverse("accounts:login")).content.decode()
    assert "without activity" in follow


def test_absolute_timeout_logs_out_however_active(client, clock, settings, reviewer):
    settings.SESSION_IDLE_TIMEOUT = 30 * 60
    settings.SESSION_ABSOLUTE_TIMEOUT = 2 * 60 * 60
    login(client, reviewer)
    for _ in range(5):  # active every 20 minutes for 1 h 40 min
        clock.advance(minutes=20)
        assert _signed_in(client)
    clock.advance(minutes=20, seconds=1)  # 2 h after login
    assert not _signed_in(client)
    assert _logout_reasons(reviewer) == ["absolute_timeout"]


def test_activity_is_recorded_at_a_coarse_resolution(client, clock, applicant):
    """Requests within SESSION_ACTIVITY_RESOLUTION do not write the session each time."""
    login(client, applicant)
    key = client.session.session_key
    before = Session.objects.get(session_key=key).expire_date
    clock.advance(seconds=10)
    client.get("/api/v1/me/")
    assert Session.objects.get(session_key=key).expire_date == before
    clock.advance(seconds=120)
    client.get("/api/v1/me/")
    assert Session.objects.get(session_key=key).expire_date > before


def test_session_id_rotates_at_login_and_dies_at_logout(client, applicant):
    client.get(reverse("accounts:login"))
    client.session.save()
    anonymous_key = client.session.session_key
    login(client, applicant)
    signed_in_key = client.cookies["sessionid"].value
    assert signed_in_key != anonymous_key
    assert not Session.objects.filter(session_key=anonymous_key).exists()

    client.post(reverse("accounts:logout"))
    assert not Session.objects.filter(session_key=signed_in_key).exists()
    replay = Client()
    replay.cookies["sessionid"] = signed_in_key
    assert replay.get("/api/v1/me/").status_code in (401, 403)


def test_timeouts_are_configured_and_the_cookie_does_not_outlive_them(settings):
    assert 0 < settings.SESSION_IDLE_TIMEOUT <= settings.SESSION_ABSOLUTE_TIMEOUT
    assert settings.SESSION_COOKIE_AGE <= settings.SESSION_ABSOLUTE_TIMEOUT
