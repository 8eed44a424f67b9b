"""Web security helpers that are not a view or a model: the Content-Security-Policy header,
session timeout bookkeeping, the WeasyPrint URL fetcher and the deploy checks for them.

See docs/security.md for what each control does and how to operate it.
"""

import logging
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning
from django.utils import timezone

logger = logging.getLogger("core.security")

# --- Content-Security-Policy -------------------------------------------------------------------


def csp_header_value(policy: Mapping[str, Sequence[str]], report_uri: str = "") -> str:
    """`{"default-src": ["'self'"], ...}` as a header value: `default-src 'self'; ...`.

    A directive with no sources is written bare (`upgrade-insecure-requests`).
    """
    parts = [" ".join([name, *sources]).strip() for name, sources in policy.items()]
    if report_uri:
        parts.append(f"report-uri {report_uri}")
    return "; ".join(parts)


def csp_header_name() -> str:
    if getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", False):
        return "Content-Security-Policy-Report-Only"
    return "Content-Security-Policy"


# --- Session timeouts ---------------------------------------------------------------------------

# Epoch seconds, in the session: when the person logged in, and when they were last seen.
SESSION_LOGIN_AT = "_cv_login_at"
SESSION_SEEN_AT = "_cv_seen_at"


def now_epoch() -> int:
    """The clock the session timeouts read (timezone.now, so tests can move it)."""
    return int(timezone.now().timestamp())


def session_mark_login(session: Any) -> None:
    """Start both timeout clocks; called when a person logs in (accounts.signals)."""
    now = now_epoch()
    session[SESSION_LOGIN_AT] = now
    session[SESSION_SEEN_AT] = now


def session_expiry_reason(session: Any, now: int | None = None) -> str | None:
    """ "idle" or "absolute" when the signed-in session has timed out, else None.

    A session from before the timeouts existed has no stamps: it starts its clocks now.
    """
    now = now_epoch() if now is None else now
    login_at = session.get(SESSION_LOGIN_AT)
    seen_at = session.get(SESSION_SEEN_AT)
    if login_at is None or seen_at is None:
        session_mark_login(session)
        return None
    if now - int(login_at) >= settings.SESSION_ABSOLUTE_TIMEOUT:
        return "absolute"
    if now - int(seen_at) >= settings.SESSION_IDLE_TIMEOUT:
        return "idle"
    # Saving the session costs a write, so activity is recorded at a coarse resolution: the
    # idle timeout is exact to within SESSION_ACTIVITY_RESOLUTION seconds.
    if now - int(seen_at) >= settings.SESSION_ACTIVITY_RESOLUTION:
        session[SESSION_SEEN_AT] = now
    return None


# --- WeasyPrint URL fetcher ---------------------------------------------------------------------


class FetchRefused(ValueError):
    """A PDF asked for a resource outside the allow-list (WeasyPrint logs it and goes on)."""


def pdf_allowed_roots() -> list[Path]:
    """Folders a PDF may read files from: the app's own static files, nothing else."""
    roots = [Path(settings.STATIC_ROOT), *(Path(p) for p in settings.STATICFILES_DIRS)]
    return [root.resolve() for root in roots]


def _file_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise FetchRefused(f"refused a file URL on another host: {url}")
    return Path(unquote(parts.path)).resolve()  # resolves "..", and symlinks out of a root


def url_allowed(url: str, allowed_files: Iterable[Path] = ()) -> bool:
    """True for data: URIs, files inside the static folders, and the exact `allowed_files`.

    Every other scheme (http, https, ftp, ...) and every other file is refused: a PDF is made
    from data that applicants typed, and must never read the server's files or reach the
    network (SSRF, e.g. the cloud metadata address 169.254.169.254).
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme == "data":
        return True
    if scheme != "file":
        return False
    try:
        path = _file_path(url)
    except FetchRefused:
        return False
    if path in {Path(f).resolve() for f in allowed_files}:
        return True
    return any(path.is_relative_to(root) for root in pdf_allowed_roots())


@cache
def safe_url_fetcher_class() -> type:
    """WeasyPrint's URLFetcher, restricted by `url_allowed`. Subclass it to serve a private
    scheme (call `super().fetch` for everything else); WeasyPrint is imported only here."""
    from weasyprint.urls import URLFetcher

    class SafeURLFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no type hints
        def __init__(self, *, allowed_files: Iterable[Path] = (), **kwargs: Any) -> None:
            kwargs.setdefault("allowed_protocols", ("data", "file"))
            kwargs.setdefault("allow_redirects", False)
            kwargs.setdefault("timeout", 5)
            super().__init__(**kwargs)
            self.allowed_files = tuple(Path(f).resolve() for f in allowed_files)
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url_allowed(url, self.allowed_files):
                self.refused.append(url)
                logger.warning("PDF resource refused (not on the allow-list): %.200s", url)
                raise FetchRefused(f"resource not allowed in a PDF: {url[:200]}")
            return super().fetch(url, headers)

    return SafeURLFetcher


def safe_url_fetcher(*, allowed_files: Iterable[Path] = ()) -> Any:
    """A fetcher for `weasyprint.HTML(..., url_fetcher=safe_url_fetcher())`.

    Allows data: URIs, the app's static files and the exact `allowed_files` (a font, say);
    refuses everything else and keeps the refused URLs in `.refused`.
    """
    return safe_url_fetcher_class()(allowed_files=allowed_files)


# --- Deploy checks (manage.py check --deploy) ---------------------------------------------------


@register(Tags.security, deploy=True)
def check_security_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when a control this project relies on is switched off in a deployment."""
    messages: list[CheckMessage] = []
    if not getattr(settings, "CONTENT_SECURITY_POLICY", None):
        messages.append(
            CheckWarning("CONTENT_SECURITY_POLICY is empty: no CSP header.", id="cv.W001")
        )
    if getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", False):
        messages.append(
            CheckWarning(
                "The Content-Security-Policy is in report-only mode (DJANGO_CSP_REPORT_ONLY).",
                hint="Use report-only while testing a policy change, then switch it off.",
                id="cv.W002",
            )
        )
    if not getattr(settings, "TWO_FACTOR_REQUIRED", False):
        messages.append(
            CheckWarning(
                "Two-factor authentication is not required for staff (TWO_FACTOR_REQUIRED).",
                id="cv.W003",
            )
        )
    idle = getattr(settings, "SESSION_IDLE_TIMEOUT", 0)
    absolute = getattr(settings, "SESSION_ABSOLUTE_TIMEOUT", 0)
    if not 0 < idle <= absolute or absolute > 24 * 3600:
        messages.append(
            CheckWarning(
                "Session timeouts are off or too long (SESSION_IDLE_TIMEOUT, "
                "SESSION_ABSOLUTE_TIMEOUT).",
                id="cv.W004",
            )
        )
    return messages
