"""Two-factor authentication for staff: enrolment, login step 2, enforcement, tokens, reset."""

import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts import two_factor
from accounts.models import ApiToken, User
from accounts.services import api_token_create, otp_device_reset, otp_verify
from audit.models import AuditEvent
from core.exceptions import NotAllowedError
from tests.factories import UserFactory
from tests.security.conftest import (
    PASSWORD,
    STAFF_ROLES,
    enrol,
    login,
    login_with_code,
    next_code,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def required(settings):
    settings.TWO_FACTOR_REQUIRED = True


def _events(user: User, event: str) -> list[AuditEvent]:
    return [
        e for e in AuditEvent.objects.filter(target_id=str(user.pk)) if e.data.get("event") == event
    ]


# --- Enforcement ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_without_device_is_sent_to_enrolment_before_any_page(client, required, role):
    user = UserFactory(role=role)
    response = login(client, user)
    assert response.status_code == 302  # the password is right: logged in, not yet verified
    for path in ["/", "/officer/", "/finance/", "/audit/", "/admin/", "/accounts/settings/"]:
        page = client.get(path)
        assert page.status_code == 302, path
        assert page["Location"].startswith(reverse("accounts:second_factor")), path
    api = client.get("/api/v1/me/")
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "second_factor_required"
    enrolment = client.get(reverse("accounts:second_factor"))
    assert enrolment.status_code == 200
    assert 'data-testid="second-factor-qr"' in enrolment.content.decode()


@pytest.mark.parametrize("role", [User.Role.APPLICANT, User.Role.PROVIDER])
def test_applicants_and_providers_need_no_second_factor(client, required, role):
    user = UserFactory(role=role)
    login(client, user)
    assert client.get("/api/v1/me/").status_code == 200
    assert client.get(reverse("accounts:settings")).status_code == 200


def test_a_superuser_of_any_role_needs_the_second_factor(client, required):
    user = UserFactory(role=User.Role.APPLICANT, is_staff=True)
    login(client, user)
    assert client.get("/api/v1/me/").status_code == 403


def test_enforcement_off_lets_force_logged_in_staff_work(client, settings, reviewer):
    settings.TWO_FACTOR_REQUIRED = False
    client.force_login(reviewer)
    assert client.get("/officer/").status_code == 200


def test_token_authenticated_api_is_not_affected(required, reviewer):
    enrol(reviewer)
    _token, raw = api_token_create(user=reviewer, name="ci", otp_verified=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert api.get("/api/v1/me/").status_code == 200


# --- Enrolment ------------------------------------------------------------------------------


def test_enrolment_shows_qr_and_secret_and_a_right_code_verifies_the_session(
    client, required, approver
):
    login(client, approver)
    page = client.get(reverse("accounts:second_factor") + "?next=/officer/").content.decode()
    secret = re.search(r'data-testid="second-factor-secret">([A-Z2-7 ]+)<', page).group(1)
    key = client.session[two_factor.ENROL_KEY]
    assert two_factor.key_base32(key) == secret
    assert "<svg" in page and "otpauth" not in page  # the QR code is drawn, not linked
    assert not TOTPDevice.objects.exists()  # nothing is stored before the code is confirmed

    wrong = client.post(reverse("accounts:second_factor"), {"code": "000000", "next": "/officer/"})
    assert wrong.status_code == 200 and "not right" in wrong.content.decode()
    assert not TOTPDevice.objects.exists()
    assert _events(approver, "second_factor_failed")

    done = client.post(
        reverse("accounts:second_factor"),
        {"code": two_factor.current_code(key), "next": "/officer/"},
    )
    assert done.status_code == 302 and done["Location"] == "/officer/"
    device = TOTPDevice.objects.get(user=approver)
    assert device.confirmed and device.key == key
    assert client.get("/officer/").status_code == 200
    assert _events(approver, "second_factor_enrolled")
    assert two_factor.ENROL_KEY not in client.session


def test_enrolment_refuses_offsite_next(client, required, approver):
    login(client, approver)
    client.get(reverse("accounts:second_factor"))
    key = client.session[two_factor.ENROL_KEY]
    done = client.post(
        reverse("accounts:second_factor"),
        {"code": two_factor.current_code(key), "next": "https://evil.example/"},
    )
    assert done["Location"] == "/"


def test_a_second_enrolment_cannot_replace_a_device(client, required, approver):
    device = enrol(approver)
    client.force_login(approver)  # a session without the second factor
    page = client.get(reverse("accounts:second_factor")).content.decode()
    assert "second-factor-qr" not in page  # asks for the existing app's code instead
    response = client.post(reverse("accounts:second_factor"), {"code": next_code(device)})
    assert response.status_code == 302
    assert TOTPDevice.objects.filter(user=approver).count() == 1
    assert client.get("/officer/").status_code == 200


# --- Login, step 2 --------------------------------------------------------------------------


def test_login_with_a_device_asks_for_the_code_before_logging_in(client, clock, reviewer):
    device = enrol(reviewer)
    step1 = login(client, reviewer)
    assert step1["Location"] == reverse("accounts:login_code")
    assert "_auth_user_id" not in client.session  # not logged in after the password alone
    assert client.get("/officer/").status_code == 302

    wrong = client.post(reverse("accounts:login_code"), {"code": "123456"})
    assert wrong.status_code == 200 and "not right" in wrong.content.decode()
    assert "_auth_user_id" not in client.session
    failed = _events(reviewer, "second_factor_failed")
    assert failed and failed[-1].data["during"] == "login"

    clock.advance(seconds=2)  # wrong codes slow the next attempt down by a second
    ok = client.post(reverse("accounts:login_code"), {"code": next_code(device)})
    assert ok.status_code == 302
    assert client.session["_auth_user_id"] == str(reviewer.pk)
    assert client.get("/officer/").status_code == 200
    login_event = AuditEvent.objects.filter(target_id=str(reviewer.pk), action="user.login").last()
    assert login_event.data == {"second_factor": True}


def test_login_code_is_throttled_after_a_wrong_code(client, clock, reviewer):
    device = enrol(reviewer)
    login(client, reviewer)
    client.post(reverse("accounts:login_code"), {"code": "123456"})
    too_soon = client.post(reverse("accounts:login_code"), {"code": next_code(device)})
    assert "Wait" in too_soon.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_code_works_only_once(client, clock, reviewer):
    device = enrol(reviewer)
    code = next_code(device)
    assert login_with_code(client, reviewer, device).status_code == 302
    other = Client()
    login(other, reviewer)
    replay = other.post(reverse("accounts:login_code"), {"code": code})
    assert replay.status_code == 200 and "_auth_user_id" not in other.session


def test_pending_login_expires(client, clock, settings, reviewer):
    device = enrol(reviewer)
    login(client, reviewer)
    clock.advance(seconds=settings.TWO_FACTOR_LOGIN_PENDING_SECONDS + 1)
    late = client.post(reverse("accounts:login_code"), {"code": next_code(device, 12)})
    assert late.status_code == 302 and late["Location"] == reverse("accounts:login")
    assert "_auth_user_id" not in client.session


def test_too_many_wrong_codes_lock_the_login(client, clock, settings, reviewer):
    settings.AXES_FAILURE_LIMIT = 3
    device = enrol(reviewer)
    login(client, reviewer)
    for _ in range(3):
        clock.advance(seconds=60)
        last = client.post(reverse("accounts:login_code"), {"code": "000000"})
    assert last.status_code == 429  # wrong codes count towards django-axes' lockout
    clock.advance(seconds=60)
    again = login(client, reviewer)
    assert again.status_code == 429
    assert client.get(reverse("accounts:login_code")).status_code == 302
    assert device.user_id == reviewer.pk


def test_code_page_without_password_step_goes_to_login(client):
    response = client.get(reverse("accounts:login_code"))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login")


def test_admin_login_form_is_replaced_by_the_two_step_login(client, reviewer):
    enrol(reviewer)
    response = client.post(
        reverse("admin:login"), {"username": reviewer.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert "_auth_user_id" not in client.session


# --- API tokens -----------------------------------------------------------------------------


def test_staff_cannot_exchange_a_password_for_a_token(required, reviewer):
    response = APIClient().post(
        "/api/v1/auth/token/", {"email": reviewer.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "second_factor_required"
    assert not ApiToken.objects.exists()


def test_a_device_owner_cannot_exchange_a_password_for_a_token(applicant):
    enrol(applicant)  # optional for applicants, but once set up it protects the account
    response = APIClient().post(
        "/api/v1/auth/token/", {"email": applicant.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 403


def test_staff_token_from_a_verified_session(client, required, clock, finance):
    device = enrol(finance)
    with pytest.raises(NotAllowedError):
        api_token_create(user=finance, name="x")
    login_with_code(client, finance, device)
    response = client.post(reverse("accounts:settings"), {"name": "bank export"})
    assert 'data-testid="new-token"' in response.content.decode()
    assert ApiToken.objects.filter(user=finance).count() == 1


# --- Reset by an administrator --------------------------------------------------------------


def test_admin_resets_a_lost_device_and_ends_the_sessions(required, clock, reviewer):
    admin = UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=True)
    device = enrol(reviewer)
    session = Client()
    login_with_code(session, reviewer, device)
    assert session.get("/officer/").status_code == 200

    removed = otp_device_reset(actor=admin, user_id=reviewer.pk, reason="phone lost; called back")
    assert removed == 1
    assert not TOTPDevice.objects.filter(user=reviewer).exists()
    assert session.get("/officer/").status_code == 302  # the old session has ended
    event = _events(reviewer, "second_factor_reset")[-1]
    assert event.actor_id == admin.pk and event.data["sessions_ended"] == 1

    fresh = Client()
    login(fresh, reviewer)
    assert fresh.get("/officer/")["Location"].startswith(reverse("accounts:second_factor"))


def test_reset_needs_another_administrator_and_a_reason(reviewer, approver):
    admin = UserFactory(role=User.Role.ADMIN)
    with pytest.raises(NotAllowedError):
        otp_device_reset(actor=approver, user_id=reviewer.pk, reason="x")
    with pytest.raises(NotAllowedError):
        otp_device_reset(actor=admin, user_id=admin.pk, reason="x")
    with pytest.raises(Exception, match="why"):
        otp_device_reset(actor=admin, user_id=reviewer.pk, reason="  ")


def test_admin_action_resets_with_a_reason(client, reviewer):
    admin = UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=True)
    enrol(reviewer)
    client.force_login(admin)
    url = reverse("admin:accounts_user_changelist")
    ask = client.post(url, {"action": "reset_second_factor", "_selected_action": [reviewer.pk]})
    assert ask.status_code == 200 and "Reason" in ask.content.decode()
    assert TOTPDevice.objects.filter(user=reviewer).exists()
    done = client.post(
        url,
        {
            "action": "reset_second_factor",
            "_selected_action": [reviewer.pk],
            "apply": "1",
            "reason": "new phone, checked by video call",
        },
    )
    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(user=reviewer).exists()
    assert _events(reviewer, "second_factor_reset")[-1].data["via"] == "admin"


def test_console_reset_command(reviewer):
    enrol(reviewer)
    call_command("reset_second_factor", reviewer.email, "--reason", "sole admin lost phone")
    assert not TOTPDevice.objects.filter(user=reviewer).exists()
    assert _events(reviewer, "second_factor_reset")[-1].data["via"] == "manage.py"


def test_otp_verify_accepts_only_the_users_own_device(reviewer, approver):
    mine = enrol(reviewer)
    enrol(approver)
    assert otp_verify(user=approver, code=next_code(mine)).device is None
