"""Checks on uploaded documents: type by content (not by name), size, and that it opens."""

import hashlib
import io
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from core.exceptions import DomainError

ALLOWED = {
    "application/pdf": {".pdf"},
    "image/png": {".png"},
    "image/jpeg": {".jpg", ".jpeg"},
}
SIGNATURES = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
]


@dataclass(frozen=True)
class CheckedUpload:
    content_type: str
    size_bytes: int
    sha256: str
    original_name: str


def _sniff(head: bytes) -> str | None:
    # PDF readers accept a header anywhere in the first 1024 bytes; we insist on the start.
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def _opens(content_type: str, data: bytes) -> bool:
    """Parse the file: a renamed or truncated file with the right first bytes is refused too."""
    try:
        if content_type == "application/pdf":
            from pypdf import PdfReader

            return len(PdfReader(io.BytesIO(data), strict=False).pages) > 0
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        return True
    except Exception:  # any parser error means we cannot show it to a reviewer
        return False


def check_upload(upload: UploadedFile) -> CheckedUpload:
    """Accept a PDF, PNG or JPEG up to DOCUMENT_MAX_BYTES; raise DomainError saying why not."""
    name = (upload.name or "document").replace("\\", "/").rsplit("/", 1)[-1][:200]
    size = upload.size or 0
    limit = settings.DOCUMENT_MAX_BYTES
    if size == 0:
        raise DomainError(
            _("The file %(name)s is empty.") % {"name": name},
            code="empty_file",
            fields={"file": [_("The file is empty.")]},
        )
    if size > limit:
        message = _(
            "The file is %(size)s; the limit is %(limit)s. Scan at a lower resolution or split it."
        ) % {"size": filesizeformat(size), "limit": filesizeformat(limit)}
        raise DomainError(message, code="file_too_large", fields={"file": [message]})
    upload.seek(0)
    data = upload.read()
    content_type = _sniff(data[:16])
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if content_type is None:
        message = _(
            "%(name)s is not a PDF, PNG or JPEG file (whatever its name says). "
            "Save or scan the document as PDF and upload that."
        ) % {"name": name}
        raise DomainError(message, code="file_type_not_allowed", fields={"file": [message]})
    if extension not in ALLOWED[content_type]:
        message = _(
            "%(name)s contains a %(kind)s but its name ends in '%(ext)s'. Rename it and try again."
        ) % {
            "name": name,
            "kind": content_type.split("/")[-1].upper(),
            "ext": extension or _("(nothing)"),
        }
        raise DomainError(message, code="file_extension_mismatch", fields={"file": [message]})
    if not _opens(content_type, data):
        message = _("%(name)s could not be opened; it may be damaged or password-protected.") % {
            "name": name
        }
        raise DomainError(message, code="file_unreadable", fields={"file": [message]})
    upload.seek(0)
    return CheckedUpload(
        content_type=content_type,
        size_bytes=size,
        sha256=hashlib.sha256(data).hexdigest(),
        original_name=name,
    )
