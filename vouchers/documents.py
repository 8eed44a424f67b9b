"""Award letters as PDF: HTML from a template, laid out by WeasyPrint. No database access."""

import glob
import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import render_to_string
from django.utils import translation

from core.security import safe_url_fetcher


class LetterRenderError(Exception):
    """The letter could not be produced (missing font, broken template, layout error)."""


def cjk_font_path() -> Path:
    """The first installed font with Chinese glyphs, or LetterRenderError saying what to install."""
    for pattern in settings.LETTER_CJK_FONT_GLOBS:
        for match in sorted(glob.glob(pattern, recursive=True)):
            path = Path(match)
            if path.is_file():
                return path
    raise LetterRenderError(
        "No font with Chinese glyphs is installed (looked for "
        + ", ".join(settings.LETTER_CJK_FONT_GLOBS)
        + "). Install Debian's fonts-noto-cjk (or fonts-wqy-microhei), "
        "or set LETTER_CJK_FONT_GLOBS."
    )


@lru_cache(maxsize=256)
def qr_svg(url: str) -> str:
    """An inline SVG QR code for the verification link."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=1)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]


def letter_html(snapshot: dict[str, Any], language: str) -> str:
    """The letter's HTML in the letter's language (also used by bench/letters.py)."""
    font = cjk_font_path()
    try:
        with translation.override(language):
            return render_to_string(
                settings.LETTER_TEMPLATE,
                {
                    "letter": snapshot,
                    "language": language,
                    "font_url": font.as_uri(),
                    "qr_svg": qr_svg(snapshot["verify_url"]),
                    "zh": language.startswith("zh"),
                },
            )
    except (TemplateDoesNotExist, TemplateSyntaxError, KeyError) as exc:
        raise LetterRenderError(f"the letter template could not be rendered: {exc}") from exc


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML  # heavy import, only where PDFs are made

    # Only the letter font, static files and data: URIs may be read: never another file on the
    # server, never the network, whatever an applicant typed into a field (core/security.py).
    fetcher = safe_url_fetcher(allowed_files=[cjk_font_path()])
    try:
        return (
            HTML(string=html, base_url=str(settings.BASE_DIR), url_fetcher=fetcher).write_pdf()
            or b""
        )
    except Exception as exc:  # WeasyPrint raises many types; all mean "no letter"
        raise LetterRenderError(f"WeasyPrint failed: {type(exc).__name__}: {exc}") from exc


def render_award_letter(snapshot: dict[str, Any], language: str) -> bytes:
    pdf = html_to_pdf(letter_html(snapshot, language))
    if not pdf.startswith(b"%PDF-"):
        raise LetterRenderError("WeasyPrint returned no PDF")
    return pdf
