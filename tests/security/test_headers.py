"""Security headers on every kind of response, and templates that a strict CSP can serve."""

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from core.security import csp_header_value

pytestmark = pytest.mark.django_db

EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
TEMPLATES = Path(django_settings.BASE_DIR) / "templates"


def _responses(client, reviewer):
    client.force_login(reviewer)
    yield "page", client.get("/")
    yield "form", client.get(reverse("accounts:settings"))
    yield "api", client.get("/api/v1/me/")
    yield "404 page", client.get("/no-such-page/")
    yield "404 api", client.get("/api/v1/no-such-thing/")
    yield "admin", client.get("/admin/login/")
    yield "redirect", client.get(reverse("accounts:login"))


def test_every_response_carries_the_security_headers(client, reviewer):
    for kind, response in _responses(client, reviewer):
        assert response["Content-Security-Policy"] == EXPECTED_CSP, kind
        assert response["X-Frame-Options"] == "DENY", kind
        assert response["X-Content-Type-Options"] == "nosniff", kind
        assert response["Referrer-Policy"] == "same-origin", kind
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", kind
        assert "camera=()" in response["Permissions-Policy"], kind


def test_policy_has_the_required_directives(settings):
    policy = settings.CONTENT_SECURITY_POLICY
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["style-src"]  # only style *attributes* are allowed
    assert csp_header_value(policy) == EXPECTED_CSP


def test_report_only_switch(client, settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = True
    response = client.get("/")
    assert response["Content-Security-Policy-Report-Only"] == EXPECTED_CSP
    assert "Content-Security-Policy" not in response


def test_hsts_on_https_with_production_values(client, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    response = client.get("/", secure=True)
    assert response["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style[\s>]", re.IGNORECASE)


def _page_templates() -> list[Path]:
    """Templates served to browsers (PDF and email templates are not subject to a CSP)."""
    skip = {"pdf", "emails"}
    return [
        path
        for path in TEMPLATES.rglob("*.html")
        if not skip.intersection(path.relative_to(TEMPLATES).parts)
    ]


def test_page_templates_need_no_inline_script_or_style_element():
    """What the CSP would block: inline <script>, on* handlers, javascript: URLs, <style>."""
    offenders = []
    for path in _page_templates():
        text = path.read_text()
        for name, pattern in [
            ("inline <script>", INLINE_SCRIPT),
            ("on* handler", INLINE_HANDLER),
            ("<style> element", STYLE_ELEMENT),
        ]:
            for match in pattern.finditer(text):
                snippet = text[match.start() : match.start() + 60]
                if "application/json" in snippet:  # json_script data is not executed
                    continue
                offenders.append(f"{path.relative_to(TEMPLATES)}: {name}: {snippet!r}")
        if "javascript:" in text:
            offenders.append(f"{path.relative_to(TEMPLATES)}: javascript: URL")
    assert not offenders, "\n".join(offenders)


def test_chart_svg_has_no_style_element():
    from datetime import UTC, datetime, timedelta

    from core.charts import cumulative_spending_svg

    start = datetime(2026, 1, 1, tzinfo=UTC)
    svg = cumulative_spending_svg(
        points=[(start + timedelta(days=3), 1000)],
        cap_cents=5000,
        currency="CNY",
        start=start,
        end=start + timedelta(days=30),
        title="Spending",
    )
    assert "<style" not in svg and 'stroke="#c8102e"' in svg


@pytest.mark.urls("tests.security.urls_swagger")
def test_api_docs_split_view_has_no_inline_script_or_style(client):
    body = client.get("/api/docs/").content.decode()
    assert "?script=" in body and "swagger.css" in body
    assert not INLINE_SCRIPT.search(body) and not STYLE_ELEMENT.search(body)
    script = client.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")


def test_api_docs_page_has_no_inline_script(client):
    body = client.get("/api/docs/").content.decode()
    assert "<script" in body
    assert not INLINE_SCRIPT.search(body) and not STYLE_ELEMENT.search(body)
