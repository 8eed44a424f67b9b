"""Schemathesis against our own OpenAPI schema: generated requests never get a 5xx.

Every operation is called with data generated from the schema (valid and invalid), as an
authenticated applicant who owns an organization and a draft, so the write paths are reached.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from accounts.services import api_token_create

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def token(applicant, draft):
    _token, raw = api_token_create(user=applicant, name="fuzz")
    return raw


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """Raw WSGI calls fire request_finished, which would close the test's connection (and
    its transaction); Django's own test client disconnects the same handler."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_answers_5xx(case, token):
    response = case.call(headers={"Authorization": f"Token {token}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    if response.status_code >= 400 and response.headers.get("Content-Type", "").startswith(
        "application/json"
    ):
        body = response.json()
        assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]
