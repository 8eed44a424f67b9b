"""PDF/A-3b rendering with associated files (reports/pdf.py)."""

import io
import re

import pytest
from pypdf import PdfReader, PdfWriter

from reports.pdf import Attachment, ReportRenderError, add_associated_file, render_pdf
from vouchers.documents import cjk_font_path

HTML = """<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8"><title>Inner</title>
<style>@font-face {{ font-family: "T CJK"; src: url("{font}"); }}
body {{ font-family: "T CJK"; }}</style></head>
<body><h1>Voucher register</h1><p>深圳市智算科技有限公司 owes nothing.</p></body></html>"""


def html() -> str:
    return HTML.format(font=cjk_font_path().as_uri())


def xmp(reader: PdfReader) -> bytes:
    return reader.trailer["/Root"]["/Metadata"].get_data()


def assert_pdfa3b(reader: PdfReader) -> None:
    """The PDF/A-3b markers a validator looks at first (what pypdf can check here)."""
    metadata = xmp(reader)
    assert re.search(rb'pdfaid:part="3"', metadata)
    assert re.search(rb'pdfaid:conformance="B"', metadata)
    (intent,) = reader.trailer["/Root"]["/OutputIntents"]
    intent = intent.get_object()
    assert intent["/S"] == "/GTS_PDFA1"
    assert intent["/DestOutputProfile"].get_object().get_data()  # the ICC profile is embedded
    assert reader.trailer["/ID"]
    for page in reader.pages:  # every font embedded
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor)


def test_render_pdf_is_pdfa3b_with_embedded_fonts() -> None:
    reader = PdfReader(io.BytesIO(render_pdf(html(), title="Register", lang="zh-Hans")))
    assert_pdfa3b(reader)
    assert reader.trailer["/Root"]["/Lang"] == "zh-Hans"
    assert b"Register" in xmp(reader)  # the title given wins over <title>
    assert reader.metadata is not None and reader.metadata.title == "Register"
    text = reader.pages[0].extract_text()
    assert "深圳市智算科技有限公司" in text
    fonts = [f.get_object()["/BaseFont"] for f in reader.pages[0]["/Resources"]["/Font"].values()]
    assert any("CJK" in name for name in fonts)


def test_render_pdf_embeds_attachments_as_associated_data_files() -> None:
    data = "code,organization\nCV-1,深圳市智算科技有限公司\n".encode()
    pdf = render_pdf(
        html(),
        attachments=[
            Attachment("register.csv", data, description="the rows"),
            Attachment("extra.json", b"{}", mime="application/json"),
        ],
    )
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.attachments["register.csv"] == [data]
    assert reader.attachments["extra.json"] == [b"{}"]
    root = reader.trailer["/Root"]
    specs = [ref.get_object() for ref in root["/AF"]]
    assert {spec["/F"] for spec in specs} == {"register.csv", "extra.json"}
    for spec in specs:
        assert spec["/AFRelationship"] == "/Data"
        stream = spec["/EF"]["/F"].get_object()
        assert stream["/Params"]["/Size"] == len(reader.attachments[spec["/F"]][0])
    subtypes = {spec["/F"]: spec["/EF"]["/F"].get_object()["/Subtype"] for spec in specs}
    assert subtypes == {"register.csv": "/text/csv", "extra.json": "/application/json"}
    assert [spec["/Desc"] for spec in specs if spec["/F"] == "register.csv"] == ["the rows"]


def test_render_pdf_wraps_weasyprint_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    import weasyprint

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("layout exploded")

    monkeypatch.setattr(weasyprint.HTML, "render", broken)
    with pytest.raises(ReportRenderError, match="ValueError: layout exploded"):
        render_pdf(html())


def test_add_associated_file_on_a_pypdf_document() -> None:
    writer = PdfWriter(clone_from=io.BytesIO(render_pdf(html())))
    add_associated_file(writer, Attachment("b.csv", b"b\n", description="second"))
    add_associated_file(writer, Attachment("a.csv", "a,甲\n".encode()))
    buffer = io.BytesIO()
    writer.write(buffer)
    reader = PdfReader(io.BytesIO(buffer.getvalue()))
    assert_pdfa3b(reader)
    assert dict(reader.attachments) == {"a.csv": ["a,甲\n".encode()], "b.csv": [b"b\n"]}
    tree = reader.trailer["/Root"]["/Names"]["/EmbeddedFiles"]["/Names"]
    assert tree[0::2] == ["a.csv", "b.csv"]  # a name tree is sorted
    specs = [ref.get_object() for ref in reader.trailer["/Root"]["/AF"]]
    assert [spec["/AFRelationship"] for spec in specs] == ["/Data", "/Data"]
    assert [spec["/F"] for spec in specs] == ["b.csv", "a.csv"]
    stream = specs[1]["/EF"]["/F"].get_object()
    assert stream["/Filter"] == "/FlateDecode"
    assert stream["/Subtype"] == "/text/csv"
    assert stream["/Params"]["/Size"] == len("a,甲\n".encode())
    assert len(stream["/Params"]["/CheckSum"]) == 16  # MD5
