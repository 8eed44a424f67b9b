"""WeasyPrint may read only data: URIs, the app's static files and the letter font (W10)."""

import io
import socket
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from core.security import FetchRefused, safe_url_fetcher, url_allowed
from tests.factories import OrganizationFactory
from tests.vouchers.conftest import make_ready
from vouchers import services as voucher_services
from vouchers.documents import cjk_font_path, html_to_pdf
from vouchers.models import AwardLetter

EVIL_NAME = (
    '<img src="file:///etc/passwd"><img src="http://169.254.169.254/latest/meta-data/">'
    '<link rel="stylesheet" href="http://169.254.169.254/x.css"> Evil Labs'
)
HOSTILE_HTML = """<html><head>
<link rel="stylesheet" href="http://169.254.169.254/latest/meta-data/iam.css">
<link rel="stylesheet" href="file:///etc/passwd">
<style>body { background: url("http://169.254.169.254/bg.png"); }
@font-face { font-family: x; src: url("file:///etc/shadow"); }
@import url("https://example.org/remote.css");</style>
</head><body><p>Hostile</p><img src="file:///etc/passwd"><img src="http://169.254.169.254/">
<img src="file:///srv/app/../../etc/hostname"><img src="ftp://example.org/x.png">
<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==">
</body></html>"""


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every URL that reached WeasyPrint's real fetch (after the allow-list), and no network."""
    from weasyprint.urls import URLFetcher

    seen: list[str] = []
    real = URLFetcher.fetch

    def spy(self: Any, url: str, headers: Any = None) -> Any:
        seen.append(url)
        return real(self, url, headers)

    def no_network(*args: Any, **kwargs: Any) -> Any:
        seen.append(f"socket:{args!r}")
        raise OSError("no network in this test")

    monkeypatch.setattr(URLFetcher, "fetch", spy)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    return seen


def _allowed_fetch(url: str) -> bool:
    return url.startswith("data:") or url == cjk_font_path().as_uri()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "file://localhost/etc/passwd",
        "file://attacker.example/share/x",
        "http://169.254.169.254/latest/meta-data/",
        "https://example.org/style.css",
        "ftp://example.org/x.png",
        "gopher://127.0.0.1:6379/_FLUSHALL",
    ],
)
def test_fetcher_refuses_files_and_the_network(url):
    fetcher = safe_url_fetcher()
    assert not url_allowed(url)
    with pytest.raises(FetchRefused):
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_fetcher_allows_data_static_files_and_the_named_font(settings):
    fetcher = safe_url_fetcher(allowed_files=[cjk_font_path()])
    assert fetcher.fetch("data:text/plain,hello").read() == b"hello"
    app_css = Path(settings.STATICFILES_DIRS[0]) / "css" / "app.css"
    assert fetcher.fetch(app_css.as_uri()).read().startswith(app_css.read_bytes()[:20])
    assert fetcher.fetch(cjk_font_path().as_uri()).read(4)
    assert not fetcher.refused


def test_fetcher_refuses_paths_that_climb_out_of_static(settings, tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "ok.css").write_text("p{}")
    (static / "escape.css").symlink_to("/etc/passwd")
    settings.STATICFILES_DIRS = [str(static)]
    settings.STATIC_ROOT = str(tmp_path / "collected")
    assert url_allowed((static / "ok.css").as_uri())
    assert not url_allowed(f"file://{static}/../../../etc/passwd")
    assert not url_allowed((static / "escape.css").as_uri())  # a symlink out is refused


def test_hostile_html_renders_without_fetching_anything_outside(fetched, caplog):
    pdf = html_to_pdf(HOSTILE_HTML)
    assert pdf.startswith(b"%PDF-")
    assert fetched and all(_allowed_fetch(url) for url in fetched), fetched
    refused = " ".join(r.getMessage() for r in caplog.records if r.name == "core.security")
    for needle in ("/etc/passwd", "169.254.169.254", "example.org", "/etc/shadow"):
        assert needle in refused


@pytest.fixture
def organization(applicant: Any) -> Any:
    return OrganizationFactory(owner=applicant, legal_name=EVIL_NAME)


def test_award_letter_with_hostile_organization_name(
    submitted, reviewer, approver, fetched, django_capture_on_commit_callbacks
):
    ready = make_ready(submitted, reviewer=reviewer, approver=approver)
    with django_capture_on_commit_callbacks(execute=True):
        voucher_services.application_approve(
            actor=approver, application_id=ready.pk, amount_cents=150_000_00
        )
    letter = AwardLetter.objects.get(voucher__application=ready)
    assert letter.status == AwardLetter.Status.READY
    assert all(_allowed_fetch(url) for url in fetched), fetched
    with letter.pdf.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert "Evil Labs" in text
    compact = text.replace(" ", "")
    # Shown as text, because the template escaped it: never an element that fetches.
    assert '<imgsrc="file:///etc/passwd">' in compact
    assert "169.254.169.254" in compact
