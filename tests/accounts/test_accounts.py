import re

import pytest
from django.core import signing
from django.urls import reverse

from accounts.models import ApiToken, User
from accounts.services import VERIFY_SALT, user_register, user_verify_email, verification_token
from audit.models import AuditAction, AuditEvent
from core.exceptions import ConflictError, DomainError
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def _link(body: str) -> str:
    return re.search(r"https?://\S+", body).group(0)


def test_signup_logs_in_and_sends_verification(
    client, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "http://testserver"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:signup"),
            {
                "full_name": "李伟",
                "email": "Li.Wei@Example.com",
                "password": "a-long-passphrase-7",
                "password_confirm": "a-long-passphrase-7",
            },
        )
    assert response.status_code == 302
    user = User.objects.get()
    assert (
        user.email == "li.wei@example.com"
        and user.role == "applicant"
        and not user.has_verified_email
    )
    assert len(mailoutbox) == 1
    link = _link(mailoutbox[0].body)
    assert client.get(link.replace("http://testserver", "")).status_code == 302
    user.refresh_from_db()
    assert user.has_verified_email
    assert AuditEvent.objects.filter(action=AuditAction.USER_EMAIL_VERIFIED).count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"password": "short", "password_confirm": "short"}, "too short"),
        ({"password": "12345678901", "password_confirm": "12345678901"}, "entirely numeric"),
        (
            {"password": "a-long-passphrase-7", "password_confirm": "different-phrase-8"},
            "different",
        ),
        ({"email": "not-an-email"}, "valid email"),
        ({"full_name": ""}, "required"),
    ],
)
def test_signup_bad_input_shows_message_and_creates_nothing(client, data, message):
    base = {
        "full_name": "Li Wei",
        "email": "li@example.com",
        "password": "a-long-passphrase-7",
        "password_confirm": "a-long-passphrase-7",
    }
    response = client.post(reverse("accounts:signup"), {**base, **data})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.exists()


def test_signup_existing_email_is_refused_case_insensitively(client):
    UserFactory(email="li@example.com")
    with pytest.raises(ConflictError):
        user_register(email="LI@example.com", password="a-long-passphrase-7", full_name="Li")
    response = client.post(
        reverse("accounts:signup"),
        {
            "full_name": "Li",
            "email": "Li@Example.com",
            "password": "a-long-passphrase-7",
            "password_confirm": "a-long-passphrase-7",
        },
    )
    assert "already exists" in response.content.decode()
    assert User.objects.count() == 1


def test_verification_link_tampered_or_expired(applicant):
    User.objects.filter(pk=applicant.pk).update(email_verified_at=None)
    applicant.refresh_from_db()
    token = verification_token(applicant)
    with pytest.raises(DomainError) as exc:
        user_verify_email(token=token[:-2] + "xx")
    assert exc.value.code == "link_invalid"
    old = signing.dumps({"u": applicant.pk, "e": applicant.email}, salt=VERIFY_SALT)
    from unittest import mock

    with mock.patch("django.core.signing.time.time", return_value=10**10):
        with pytest.raises(DomainError) as exc:
            user_verify_email(token=old)
    assert exc.value.code == "link_expired"


def test_verification_link_page_for_bad_token(client):
    response = client.get(reverse("accounts:verify_email", args=["garbage"]))
    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_login_and_failed_login_are_audited(client, applicant):
    client.post(reverse("accounts:login"), {"username": applicant.email, "password": "wrong"})
    response = client.post(
        reverse("accounts:login"), {"username": applicant.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    actions = list(
        AuditEvent.objects.filter(stream=f"accounts.user:{applicant.pk}").values_list(
            "action", flat=True
        )
    )
    assert "user.login_failed" in actions
    assert "user.login" in actions


def test_login_is_locked_after_repeated_failures(client, applicant, settings):
    url = reverse("accounts:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": applicant.email, "password": "wrong-password"})
    locked = client.post(url, {"username": applicant.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_error_message_is_clear(client, applicant):
    response = client.post(
        reverse("accounts:login"), {"username": applicant.email, "password": "nope"}
    )
    assert "not right" in response.content.decode()


def test_password_reset_goes_through_outbox(
    client, applicant, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "http://testserver"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:password_reset"), {"email": applicant.email})
    assert len(mailoutbox) == 1
    link = _link(mailoutbox[0].body).replace("http://testserver", "")
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "another-long-phrase-9", "new_password2": "another-long-phrase-9"},
    )
    assert response.status_code == 302
    applicant.refresh_from_db()
    assert applicant.check_password("another-long-phrase-9")
    assert AuditEvent.objects.filter(
        action=AuditAction.USER_PASSWORD_CHANGED, target_id=str(applicant.pk)
    ).exists()


def test_password_reset_for_unknown_email_reveals_nothing(client, mailoutbox):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mailoutbox == []


def test_language_switch_is_remembered_on_the_account(client, applicant):
    client.force_login(applicant)
    client.post(reverse("accounts:set_language"), {"language": "zh-hans", "next": "/portal/"})
    applicant.refresh_from_db()
    assert applicant.preferred_language == "zh-hans"
    client.cookies.clear()
    client.force_login(applicant)
    page = client.get("/portal/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="zh-hans">' in page.content.decode()


def test_language_switch_ignores_offsite_next(client):
    response = client.post(
        reverse("accounts:set_language"), {"language": "en", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_api_token_exchange_and_use(api, applicant):
    response = api.post(
        "/api/v1/auth/token/",
        {"email": applicant.email, "password": PASSWORD, "name": "ci"},
        format="json",
    )
    assert response.status_code == 201, response.content
    raw = response.json()["token"]
    token = ApiToken.objects.get()
    assert token.key_hash != raw and raw.startswith(token.prefix)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/me/").json()["email"] == applicant.email
    token.refresh_from_db()
    assert token.last_used_at is not None
    listed = api.get("/api/v1/auth/tokens/").json()
    assert "token" not in listed[0] and listed[0]["prefix"] == token.prefix


def test_api_token_exchange_wrong_password(api, applicant):
    response = api.post(
        "/api/v1/auth/token/", {"email": applicant.email, "password": "bad"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert not ApiToken.objects.exists()


def test_api_register(api, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/auth/register/",
            {
                "email": "new@example.com",
                "password": "a-long-passphrase-7",
                "full_name": "New Person",
                "language": "zh-hans",
            },
            format="json",
        )
    assert response.status_code == 201
    assert response.json()["email_verified"] is False
    assert mailoutbox[0].subject  # rendered in Chinese when translations exist
    bad = api.post(
        "/api/v1/auth/register/",
        {"email": "x@example.com", "password": "123", "full_name": "X"},
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "weak_password"
    role = api.post(
        "/api/v1/auth/register/",
        {
            "email": "y@example.com",
            "password": "a-long-passphrase-7",
            "full_name": "Y",
            "role": "admin",
        },
        format="json",
    )
    assert role.status_code == 400 and "role" in role.json()["error"]["fields"]


def test_user_can_revoke_only_own_tokens(api, applicant, other_applicant):
    from accounts.services import api_token_create

    token, _raw = api_token_create(user=other_applicant, name="theirs")
    api.force_authenticate(applicant)
    assert api.delete(f"/api/v1/auth/tokens/{token.pk}/").status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_settings_page_shows_new_token_once(client, applicant):
    client.force_login(applicant)
    response = client.post(reverse("accounts:settings"), {"name": "grant office"})
    assert 'data-testid="new-token"' in response.content.decode()
    again = client.get(reverse("accounts:settings")).content.decode()
    assert 'data-testid="new-token"' not in again
