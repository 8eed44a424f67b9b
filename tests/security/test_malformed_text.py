"""Malformed text in every kind of field (reliability plan W9): NUL bytes, lone surrogates,
100,000 characters, right-to-left overrides, emoji; as JSON to the API and as form posts.

PostgreSQL refuses NUL in text and a lone surrogate cannot be encoded to UTF-8: either one
reaching the database is a 500. Every answer here must be a 2xx/3xx or a 4xx with a message,
and nothing half-saved.
"""

import json
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from applicants.models import Organization
from tests.conftest import api_as
from tests.factories import make_uscc

pytestmark = pytest.mark.django_db

NASTY = ["a\x00b", "\ud800", "\udfff tail", "x" * 100_000, "\u202eevil.pdf", "🙂" * 50, "\x1b[31m"]
# Text as hypothesis draws it, surrogates and control characters included.
any_text = st.text(st.characters(codec=None, categories=None), max_size=300) | st.sampled_from(
    NASTY
)


def _org_body(**override: str) -> dict:
    body = {
        "legal_name": "北京算力科技有限公司",
        "registration_number": make_uscc(7),
        "region": "CN-BJ",
        "address": "1 Zhongguancun St",
        "website": "",
        "incorporated_on": "2021-05-01",
        "headcount": 12,
    }
    body.update(override)
    return body


def _post_json(client, url: str, body: dict):
    # json.dumps escapes lone surrogates as \\udXXX, which is what a hostile client sends.
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("value", NASTY)
@pytest.mark.parametrize("field", ["legal_name", "registration_number", "address", "website"])
def test_organization_api_fields(applicant, field, value):
    response = _post_json(api_as(applicant), "/api/v1/organizations/", _org_body(**{field: value}))
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        assert response.json()["error"]["message"]
        assert not Organization.objects.exists()


@settings(
    max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@given(legal_name=any_text, address=any_text)
def test_organization_api_with_drawn_text(applicant, legal_name, address):
    body = _org_body(legal_name=legal_name, address=address, registration_number=make_uscc(9))
    response = _post_json(api_as(applicant), "/api/v1/organizations/", body)
    assert response.status_code < 500, (legal_name[:50], address[:50], response.content[:300])
    Organization.objects.all().delete()


def _post_form(client, url: str, fields: dict):
    """A urlencoded form post whose bytes are what a browser (or an attacker) would send: a
    lone surrogate goes out as the invalid UTF-8 bytes it would be encoded to."""
    body = urlencode(fields, encoding="utf-8", errors="surrogatepass")
    return client.post(url, body, content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("value", NASTY)
def test_forms_refuse_or_store_clean_text(client, applicant, value):
    client.force_login(applicant)
    page = _post_form(
        client,
        reverse("applicants:organization_create"),
        {**_org_body(legal_name=value, address=value), "headcount": "12"},
    )
    assert page.status_code < 500
    for organization in Organization.objects.all():
        assert "\x00" not in organization.legal_name + organization.address
    client.logout()
    sign_up = _post_form(
        client,
        reverse("accounts:signup"),
        {"full_name": value, "email": "x@example.com", "password": value},
    )
    assert sign_up.status_code < 500


@pytest.mark.parametrize("value", NASTY)
def test_login_and_token_with_nasty_text(client, value):
    login = _post_form(client, reverse("accounts:login"), {"username": value, "password": value})
    assert login.status_code in (200, 429)
    token = client.post(
        "/api/v1/auth/token/",
        json.dumps({"email": value, "password": value, "name": value}),
        content_type="application/json",
    )
    assert token.status_code in (400, 401, 429), token.content[:200]


def test_invalid_utf8_bytes_in_a_form_post(client, applicant):
    client.force_login(applicant)
    response = client.post(
        reverse("applicants:organization_create"),
        b"legal_name=%ED%A0%80&address=%FF%FE&headcount=%00",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code < 500


def test_invalid_json_and_wrong_types(applicant):
    client = api_as(applicant)
    for raw in (
        b'{"legal_name": ',
        b"\xff\xfe",
        b"[]",
        b'"text"',
        b"null",
        b'{"headcount": 1e999}',
    ):
        response = client.post("/api/v1/organizations/", raw, content_type="application/json")
        assert 400 <= response.status_code < 500, (raw, response.status_code)
        assert response.json()["error"]["code"]
