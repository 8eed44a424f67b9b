"""CSRF on every form and every session-authenticated API write (W5).

Every URL pattern, as every signed-in role, gets POST (and PUT, PATCH, DELETE for the API) with
the session cookie but no CSRF token: the answer must be 403 and nothing may be written. The
only routes that do not check are API endpoints that ignore the session altogether
(`authentication_classes = []`: registration, the password-for-token exchange, the public letter
check): a forged request there carries no identity, and they must still write nothing.
"""

from typing import Any

import pytest
from django.test import Client
from django.urls import resolve, reverse

from accounts.models import User
from tests.security.routes import seeded_world, urls
from tests.security.test_get_is_safe import watched_writes

pytestmark = pytest.mark.django_db

API_METHODS = ("post", "put", "patch", "delete")


def _sessionless(url: str) -> bool:
    view = getattr(resolve(url).func, "view_class", None)
    return view is not None and getattr(view, "authentication_classes", None) == []


@pytest.fixture
def world(settings: Any) -> dict[str, Any]:
    settings.TWO_FACTOR_REQUIRED = False
    return seeded_world()


def _client(world: dict[str, Any], role: Any) -> Client:
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(world["users"][role])
    client.get(reverse("home"))  # a CSRF cookie, as a browser would have: the token is missing
    return client


def test_every_write_without_a_csrf_token_is_refused(world):
    routes = urls(world)
    sessionless = {r.name for r in routes if _sessionless(r.url)}
    assert sessionless == {"api:auth-register", "api:auth-token-create", "api:letter-verify"}
    problems = []
    for role in User.Role:
        client = _client(world, role)
        for route in routes:
            if route.is_admin and role != User.Role.ADMIN:
                continue
            # Every unsafe method is checked the same way; all four once, POST for every role.
            methods = API_METHODS if route.is_api and role == User.Role.APPLICANT else ("post",)
            for method in methods:
                with watched_writes() as writes:
                    response = getattr(client, method)(route.url, {"x": "1"})
                refused = response.status_code == 403 or (
                    route.name in sessionless and response.status_code >= 400
                )
                if not refused or writes:
                    problems.append(
                        f"[{role}] {method.upper()} {route.url} ({route.name}): "
                        f"{response.status_code} {writes}"
                    )
    assert not problems, "\n".join(problems)


def test_the_same_requests_pass_with_the_token(world):
    """The refusals above are CSRF's: with the token, a form post and an API write go through."""
    client = _client(world, User.Role.APPLICANT)
    token = client.cookies["csrftoken"].value
    form = client.post(
        reverse("accounts:set_language"), {"language": "en", "csrfmiddlewaretoken": token}
    )
    assert form.status_code == 302
    api = client.post(
        "/api/v1/organizations/", {}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert api.status_code == 400  # validation, not CSRF: the token was accepted


def test_csrf_failure_page_is_clear(world):
    client = _client(world, User.Role.APPLICANT)
    page = client.post(reverse("accounts:settings"), {"name": "x"})
    assert page.status_code == 403 and "Please try again" in page.content.decode()
    api = client.post("/api/v1/organizations/", {}, content_type="application/json")
    assert api.status_code == 403 and "CSRF" in api.json()["error"]["message"]
