"""Generic error pages with DEBUG off: no stack trace, no SQL, no secret (W12)."""

import io
import logging
import logging.config
import re

import pytest
from django.test import Client

from core.logging import RequestIdFilter
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


@pytest.fixture
def production_logging():
    """The project's LOGGING (the test settings turn it off), undone afterwards."""
    from config.settings import base

    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    named = {name: logging.getLogger(name).level for name in base.LOGGING["loggers"]}
    logging.config.dictConfig(base.LOGGING)
    yield
    root.handlers[:], root.level = saved_root[0], saved_root[1]
    for name, level in named.items():
        logging.getLogger(name).setLevel(level)


def _console_lines(request) -> list[str]:
    """What the project's configured console handler writes while `request()` runs."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RequestIdFilter) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        request()
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    return stream.getvalue().splitlines()


def test_the_log_line_of_a_500_carries_the_request_id_the_page_shows(browser, production_logging):
    answers = []
    lines = _console_lines(
        lambda: answers.append(browser.get("/test-errors/boom/", HTTP_X_REQUEST_ID="lb-7f3a.91"))
    )
    response = answers[0]
    assert response.status_code == 500 and response["X-Request-ID"] == "lb-7f3a.91"
    assert "Reference · 参考编号: <code>lb-7f3a.91</code>" in response.content.decode()
    errors = [line for line in lines if " ERROR " in line]
    assert errors and "ERROR [lb-7f3a.91] django.request Internal Server Error" in errors[0]


def test_a_request_id_that_is_not_plain_is_replaced(browser):
    for sent in ("has space", "x" * 65, "new\nline", "<script>"):
        response = browser.get("/nothing-here/", HTTP_X_REQUEST_ID=sent)
        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"]), sent


def test_log_lines_outside_a_request_say_so(production_logging):
    lines = _console_lines(lambda: logging.getLogger("cv.test").warning("outside"))
    assert any("WARNING [-] cv.test outside" in line for line in lines)


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
