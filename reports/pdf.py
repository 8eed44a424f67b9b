"""PDF/A-3b for reports: WeasyPrint renders, files ride along as associated files.

Auditors archive what we give them, so every report is PDF/A-3b (ISO 19005-3, level B): fonts
embedded (WeasyPrint always embeds, subset), an sRGB OutputIntent, XMP metadata saying
pdfaid:part 3 / conformance B, and the machine-readable data (CSV) embedded as an associated
file with AFRelationship /Data, listed both in the EmbeddedFiles name tree and in the catalog's
/AF array. No database access here.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

PDF_VARIANT = "pdf/a-3b"


class ReportRenderError(Exception):
    """The report could not be produced (broken HTML, missing font, layout error)."""


@dataclass(frozen=True)
class Attachment:
    """A file embedded in the PDF as an associated file (the data behind the report)."""

    name: str
    data: bytes
    mime: str = "text/csv"
    description: str = ""


FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".woff", ".woff2")


def _attachment_fetcher(attachments: Sequence[Attachment]) -> Any:
    """A WeasyPrint URL fetcher that serves `x-report-attachment:<i>` from memory, and
    otherwise only what core.security allows (data: URIs, the app's static files) plus font
    files, which the templates name by path: never another file of the server, never the
    network (a report is made of data people typed).

    WeasyPrint takes an attachment's MIME type from the fetch response (or guesses it from the
    file name); serving the bytes ourselves lets the caller's `mime` win.
    """
    from weasyprint.urls import URLFetcherResponse

    from core.security import safe_url_fetcher_class

    class _Fetcher(safe_url_fetcher_class()):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            prefix = "x-report-attachment:"
            if url.startswith(prefix):
                item = attachments[int(url[len(prefix) :])]
                return URLFetcherResponse(url, item.data, {"Content-Type": item.mime})
            parts = urlsplit(url)
            if parts.scheme == "file" and parts.path.lower().endswith(FONT_SUFFIXES):
                # A font is not a secret; allowing it by name keeps the worker processes
                # (no Django settings there) from needing the static folders.
                font = Path(unquote(parts.path)).resolve()
                self.allowed_files = (*self.allowed_files, font)  # type: ignore[has-type]
            return super().fetch(url, headers)

    return _Fetcher()


def _unique_associated_files(document: Any, pdf: Any) -> None:
    """WeasyPrint 70 lists each attachment twice in the catalog's /AF (once from the name
    tree, once from the file specification): keep each one once."""
    if "AF" in pdf.catalog:
        import pydyf

        pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))


def render_pdf(
    html: str,
    *,
    base_url: str | None = None,
    attachments: Sequence[Attachment] = (),
    title: str = "",
    lang: str = "en",
) -> bytes:
    """PDF/A-3b via WeasyPrint (pdf_variant="pdf/a-3b"), attachments embedded as associated
    files (AFRelationship /Data), fonts embedded.

    `title` and `lang` override the HTML's <title> and <html lang> when given (PDF/A wants
    both in the document's metadata). Raises ReportRenderError if WeasyPrint fails.
    """
    from weasyprint import HTML
    from weasyprint import Attachment as WeasyAttachment

    try:
        fetcher = _attachment_fetcher(attachments)
        document = HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(
            pdf_variant=PDF_VARIANT
        )
        if title:
            document.metadata.title = title
        if lang:
            document.metadata.lang = lang
        pdf_attachments = [
            WeasyAttachment(
                url=f"x-report-attachment:{index}",
                url_fetcher=fetcher,
                name=item.name,
                description=item.description or None,
                relationship="Data",
            )
            for index, item in enumerate(attachments)
        ]
        pdf = document.write_pdf(
            pdf_variant=PDF_VARIANT,
            attachments=pdf_attachments or None,
            finisher=_unique_associated_files,
        )
    except Exception as exc:  # WeasyPrint raises many types; all mean "no report"
        raise ReportRenderError(f"WeasyPrint failed: {type(exc).__name__}: {exc}") from exc
    if not pdf or not pdf.startswith(b"%PDF-"):
        raise ReportRenderError("WeasyPrint returned no PDF")
    return bytes(pdf)


def add_associated_file(writer: Any, attachment: Attachment) -> None:
    """Embed `attachment` into a pypdf PdfWriter as a PDF/A-3 associated file (/Data).

    For documents assembled with pypdf (the chunked register), where WeasyPrint did not write
    the final file: the EmbeddedFile stream (Flate-compressed) carries its MIME subtype, size,
    MD5 checksum and dates; the file specification carries /F, /UF, /Desc and /AFRelationship;
    it goes into the EmbeddedFiles name tree (kept sorted) and the catalog's /AF array.
    """
    from pypdf.generic import (
        ArrayObject,
        ByteStringObject,
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
        NumberObject,
        TextStringObject,
    )

    stamp = TextStringObject(datetime.now(UTC).strftime("D:%Y%m%d%H%M%SZ"))
    stream = DecodedStreamObject()
    stream.set_data(attachment.data)
    stream[NameObject("/Type")] = NameObject("/EmbeddedFile")
    stream[NameObject("/Subtype")] = NameObject("/" + attachment.mime)  # pypdf writes "/" as #2F
    stream[NameObject("/Params")] = DictionaryObject(
        {
            NameObject("/Size"): NumberObject(len(attachment.data)),
            NameObject("/CheckSum"): ByteStringObject(
                hashlib.md5(attachment.data, usedforsecurity=False).digest()
            ),
            NameObject("/CreationDate"): stamp,
            NameObject("/ModDate"): stamp,
        }
    )
    # pypdf's add_attachment() writes the stream uncompressed and without these keys, and
    # has no public way to add an object; _add_object is what it uses itself.
    stream_ref = writer._add_object(stream.flate_encode())
    spec = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Filespec"),
            NameObject("/F"): TextStringObject(attachment.name),
            NameObject("/UF"): TextStringObject(attachment.name),
            NameObject("/EF"): DictionaryObject(
                {NameObject("/F"): stream_ref, NameObject("/UF"): stream_ref}
            ),
            NameObject("/AFRelationship"): NameObject("/Data"),
        }
    )
    if attachment.description:
        spec[NameObject("/Desc")] = TextStringObject(attachment.description)
    spec_ref = writer._add_object(spec)

    root = writer.root_object
    names = root.setdefault(NameObject("/Names"), DictionaryObject()).get_object()
    embedded = names.setdefault(NameObject("/EmbeddedFiles"), DictionaryObject()).get_object()
    tree = embedded.setdefault(NameObject("/Names"), ArrayObject()).get_object()
    pairs = [(tree[i], tree[i + 1]) for i in range(0, len(tree), 2)]
    pairs.append((TextStringObject(attachment.name), spec_ref))
    pairs.sort(key=lambda pair: str(pair[0]).encode("utf-8"))  # a name tree is sorted
    tree[:] = [item for pair in pairs for item in pair]
    root.setdefault(NameObject("/AF"), ArrayObject()).get_object().append(spec_ref)
