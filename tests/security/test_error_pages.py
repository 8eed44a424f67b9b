"""Generic error pages with DEBUG off: no stack trace, no SQL, no secret (W12)."""

import pytest
from django.test import Client

from tests.security.urls import SECRET_DETAIL

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.security.urls")]

LEAKS = ["Traceback", "RuntimeError", SECRET_DETAIL, 'File "', "SELECT ", "DJANGO_", "settings"]


@pytest.fixture
def browser() -> Client:
    return Client(raise_request_exception=False)


def _assert_generic(body: str, settings) -> None:
    for leak in [*LEAKS, settings.SECRET_KEY]:
        assert leak not in body, leak


def test_500_page_is_generic(browser, settings, caplog):
    assert settings.DEBUG is False
    response = browser.get("/test-errors/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body and "系统出现错误" in body
    _assert_generic(body, settings)
    assert response["Content-Security-Policy"]  # headers are set on error pages too
    # The details go to the log, with the request's id, not to the page.
    logged = [r for r in caplog.records if r.name == "django.request" and r.levelname == "ERROR"]
    assert logged and SECRET_DETAIL in str(logged[0].exc_info[1])
    assert response["X-Request-ID"]


def test_500_for_the_api_is_json_without_details(browser, settings):
    response = browser.get("/api/v1/test-errors/boom/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    _assert_generic(response.content.decode(), settings)


def test_404_403_400_pages(browser, settings):
    not_found = browser.get("/nothing-here/")
    assert not_found.status_code == 404 and "Page not found" in not_found.content.decode()
    forbidden = browser.get("/test-errors/forbidden/")
    assert forbidden.status_code == 403 and "You cannot do this" in forbidden.content.decode()
    bad = browser.get("/test-errors/suspicious/")
    assert bad.status_code == 400
    assert "could not be understood" in bad.content.decode()
    for response in (not_found, forbidden, bad):
        _assert_generic(response.content.decode(), settings)


def test_404_for_the_api_is_json(browser):
    response = browser.get("/api/v1/nothing-here/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
