"""The voucher register: chunked rendering, page numbers, carried-forward sums, embedded CSV."""

import csv
import io
import multiprocessing
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Sum
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import User
from applicants.models import Application, Organization
from reports import register
from reports.register import CSV_COLUMNS, RegisterError, render_voucher_register
from tests.factories import ProgramFactory, UserFactory, make_uscc
from tests.reports.test_pdf import assert_pdfa3b, xmp
from vouchers.models import Voucher

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ROWS = register.ROWS_PER_PAGE  # rows on a page with one currency
_serial = iter(range(1, 10**9))


def make_vouchers(program: Any, n: int, *, names: list[str] | None = None, **fields: Any) -> None:
    """`n` vouchers of `program` (bulk-created: thousands in a second), distinct amounts."""
    staff = User.objects.filter(role=User.Role.APPROVER).first() or UserFactory(
        role=User.Role.APPROVER
    )
    start = next(_serial) * 1_000_000
    organizations = Organization.objects.bulk_create(
        Organization(
            legal_name=(names[i % len(names)] if names else f"Startup {start + i} Co., Ltd."),
            registration_number=make_uscc(start + i),
            region="CN-SH",
            incorporated_on=timezone.localdate() - timedelta(days=700),
            headcount=5,
        )
        for i in range(n)
    )
    applications = Application.objects.bulk_create(
        Application(
            organization=org,
            program=program,
            reference=f"APP-R{start + i}",
            currency=program.currency,
            created_by=staff,
        )
        for i, org in enumerate(organizations)
    )
    now = timezone.now()
    Voucher.objects.bulk_create(
        Voucher(
            code=f"CV-{start + i:012d}",
            application=app,
            program=program,
            organization=app.organization,
            status=fields.get("status", ["active", "issued", "exhausted"][i % 3]),
            currency=program.currency,
            cap_cents=fields.get("cap_cents", 100_000_00 + i * 101),
            spent_cents=fields.get("spent_cents", (i * 7_919) % 100_000_00),
            rate_standard_bps=3000,
            rate_domestic_bps=5000,
            over_cap_policy="clamp",
            terms={},
            valid_from=now - timedelta(days=10),
            valid_until=now + timedelta(days=355),
            issued_by=staff,
        )
        for i, app in enumerate(applications)
    )


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def embedded_csv(pdf: bytes) -> list[dict[str, str]]:
    (data,) = PdfReader(io.BytesIO(pdf)).attachments[register.CSV_NAME]
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def sql_sums(**filters: Any) -> dict[str, int]:
    sums = Voucher.objects.filter(**filters).aggregate(
        cap=Sum("cap_cents"), spent=Sum("spent_cents")
    )
    cap, spent = sums["cap"] or 0, sums["spent"] or 0
    return {"cap_cents": cap, "spent_cents": spent, "remaining_cents": cap - spent}


SUMS = re.compile(
    r"^(Brought forward|Page total|Carried forward|Total)\s+([A-Z]{3})\s+([-\d,.]+)\s+([-\d,.]+)"
    r"\s+([-\d,.]+)"
)


def cents(text: str) -> int:
    units, _dot, fraction = text.replace(",", "").partition(".")
    return int(units) * 100 + int(fraction)


def sums_on(text: str, label: str) -> dict[str, list[int]]:
    """{currency: [cap, spent, remaining]} of the `label` lines of one page's text."""
    found = {}
    for line in text.splitlines():
        match = SUMS.match(line.strip())
        if match and match.group(1) == label:
            found[match.group(2)] = [cents(match.group(i)) for i in (3, 4, 5)]
    return found


def voucher_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("CV-")]


def db_rows(**filters: Any) -> list[list[str]]:
    """The register's rows as the CSV should have them, straight from the database."""
    rows = []
    for v in (
        Voucher.objects.filter(**filters).select_related("program", "organization").order_by("code")
    ):
        rows.append(
            [
                v.code, v.status, v.currency, str(v.cap_cents), str(v.spent_cents),
                str(v.cap_cents - v.spent_cents), timezone.localtime(v.valid_from).isoformat(),
                timezone.localtime(v.valid_until).isoformat(), v.program.code,
                v.organization.registration_number, v.organization.legal_name,
            ]
        )  # fmt: skip
    return rows


@pytest.fixture
def program() -> Any:
    return ProgramFactory(providers=[], criteria=False)


def test_register_numbers_pages_continuously_across_chunks(program: Any) -> None:
    make_vouchers(program, 5 * ROWS + 3)
    result = render_voucher_register(program_id=program.pk, workers=0, chunk_size=2 * ROWS)
    texts = pages_text(result.pdf)
    assert result.pages == len(texts) == 7  # 6 pages of rows (3 chunks) + the grand total
    for number, text in enumerate(texts, start=1):
        assert re.findall(r"Page \d+ of \d+", text) == [f"Page {number} of 7"]
    assert [len(voucher_lines(text)) for text in texts] == [ROWS] * 5 + [3, 0]
    assert "Grand total" in texts[-1]


def test_register_carries_sums_forward_to_the_sql_totals(program: Any) -> None:
    make_vouchers(program, 3 * ROWS + 7)
    result = render_voucher_register(program_id=program.pk, workers=0, chunk_size=ROWS)
    texts = pages_text(result.pdf)
    expected = sql_sums(program=program)
    assert result.totals == expected
    assert result.vouchers == 3 * ROWS + 7
    assert result.totals_by_currency == {"CNY": {"vouchers": result.vouchers, **expected}}
    carried = [0, 0, 0]
    rows = db_rows(program=program)
    for page, text in enumerate(texts[:-1]):
        if page:
            assert sums_on(text, "Brought forward") == {"CNY": carried}
        else:
            assert sums_on(text, "Brought forward") == {}
        on_page = rows[page * ROWS : (page + 1) * ROWS]
        page_total = [sum(int(row[i]) for row in on_page) for i in (3, 4, 5)]
        assert sums_on(text, "Page total") == {"CNY": page_total}
        carried = [a + b for a, b in zip(carried, page_total, strict=True)]
        assert sums_on(text, "Carried forward") == {"CNY": carried}
    grand = [expected["cap_cents"], expected["spent_cents"], expected["remaining_cents"]]
    assert carried == grand
    assert sums_on(texts[-1], "Total") == {"CNY": grand}
    assert f"{result.vouchers:,}" in texts[-1]


def test_register_embeds_the_csv_of_every_row(program: Any) -> None:
    make_vouchers(program, ROWS + 1)
    other = ProgramFactory(providers=[], criteria=False)
    make_vouchers(other, 3)  # not in this program's register
    result = render_voucher_register(program_id=program.pk, workers=0)
    records = embedded_csv(result.pdf)
    assert records == [dict(zip(CSV_COLUMNS, row, strict=True)) for row in db_rows(program=program)]
    assert result.csv == PdfReader(io.BytesIO(result.pdf)).attachments[register.CSV_NAME][0]
    assert sum(int(r["cap_cents"]) for r in records) == result.totals["cap_cents"]
    assert sum(int(r["remaining_cents"]) for r in records) == result.totals["remaining_cents"]


def test_register_is_pdfa3b_with_the_csv_as_associated_file(program: Any) -> None:
    make_vouchers(program, 5)
    result = render_voucher_register(program_id=program.pk, workers=0)
    reader = PdfReader(io.BytesIO(result.pdf))
    assert reader.pdf_header == "%PDF-1.7"
    assert_pdfa3b(reader)
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "en"
    (spec,) = [ref.get_object() for ref in root["/AF"]]
    assert spec["/F"] == spec["/UF"] == register.CSV_NAME
    assert spec["/AFRelationship"] == "/Data"
    assert spec["/EF"]["/F"].get_object()["/Subtype"] == "/text/csv"
    # The document information agrees with the XMP (PDF/A): WeasyPrint's, not pypdf's.
    producer = re.search(rb'pdf:Producer="([^"]+)"', xmp(reader))
    assert producer and reader.metadata is not None
    assert reader.metadata.producer == producer.group(1).decode()
    assert reader.metadata.title == "Voucher register"


@pytest.mark.parametrize("extra", [0, 1])
def test_register_chunk_boundaries(program: Any, extra: int) -> None:
    chunk = 2 * ROWS
    make_vouchers(program, 2 * chunk + extra)
    seen: list[tuple[int, int]] = []
    result = render_voucher_register(
        program_id=program.pk,
        workers=0,
        chunk_size=chunk,
        progress=lambda done, total: seen.append((done, total)),
    )
    texts = pages_text(result.pdf)
    chunks = 2 + extra
    assert seen == [(i, chunks + 1) for i in range(1, chunks + 2)]  # + the grand total
    assert result.pages == len(texts) == 4 + extra + 1
    lines = [line for text in texts for line in voucher_lines(text)]
    assert [line.split()[0] for line in lines] == [row[0] for row in db_rows(program=program)]
    assert texts[-1].rstrip().endswith(f"Page {result.pages} of {result.pages}")


def test_register_of_an_empty_program(program: Any) -> None:
    seen: list[tuple[int, int]] = []
    result = render_voucher_register(
        program_id=program.pk, workers=0, progress=lambda d, t: seen.append((d, t))
    )
    assert (result.pages, result.vouchers) == (1, 0)
    assert result.totals == {"cap_cents": 0, "spent_cents": 0, "remaining_cents": 0}
    assert result.csv.decode().splitlines() == [",".join(CSV_COLUMNS)]
    assert embedded_csv(result.pdf) == []
    (text,) = pages_text(result.pdf)
    assert "This register has no vouchers." in text
    assert "Page 1 of 1" in text
    assert seen == [(1, 1)]
    assert_pdfa3b(PdfReader(io.BytesIO(result.pdf)))


def test_register_renders_chinese_names_with_an_embedded_cjk_font(program: Any) -> None:
    short = "深圳市智算科技有限公司"
    long = "上海临港新片区人工智能与高性能计算联合创新研究院有限责任公司（第二分公司）"
    make_vouchers(program, 4, names=[short, long])
    result = render_voucher_register(program_id=program.pk, workers=0, language="zh-hans")
    reader = PdfReader(io.BytesIO(result.pdf))
    text = reader.pages[0].extract_text()
    assert text.count(short) == 2
    assert long not in text  # wider than the column: shortened on the page...
    assert long[:10] in text and "…" in text
    assert [r["organization"] for r in embedded_csv(result.pdf)].count(long) == 2  # ...whole here
    fonts = {
        font.get_object()["/BaseFont"] for font in reader.pages[0]["/Resources"]["/Font"].values()
    }
    assert any("CJK" in name for name in fonts)
    assert reader.trailer["/Root"]["/Lang"] == "zh-hans"
    assert "已生效" in text  # the status, in the register's language
    assert_pdfa3b(reader)


def test_register_in_worker_processes_matches_the_in_process_render(program: Any) -> None:
    make_vouchers(program, 3 * ROWS + 2, names=["Alpha Co., Ltd.", "杭州星河科技有限公司"])
    here = render_voucher_register(program_id=program.pk, workers=0, chunk_size=ROWS)
    pooled = render_voucher_register(program_id=program.pk, workers=2, chunk_size=ROWS)
    assert pooled.pages == here.pages == 5
    assert pooled.csv == here.csv

    def without_dates(pdf: bytes) -> list[str]:  # the heading has the time of rendering
        return [re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d \S+", "", t) for t in pages_text(pdf)]

    assert without_dates(pooled.pdf) == without_dates(here.pdf)
    assert pooled.worker_peak_rss and os.getpid() not in pooled.worker_peak_rss
    assert all(0 < peak < 1024**3 for peak in pooled.worker_peak_rss.values())


def test_register_of_all_programs_keeps_currencies_apart(program: Any) -> None:
    dollars = ProgramFactory(providers=[], criteria=False, currency="USD")
    make_vouchers(program, ROWS)
    make_vouchers(dollars, 5)
    result = render_voucher_register(program_id=None, workers=0)
    rows_per_page = ROWS - 3  # one more brought-forward, page-total and carried-forward line
    texts = pages_text(result.pdf)
    assert result.pages == len(texts) == 3
    assert [len(voucher_lines(t)) for t in texts] == [rows_per_page, ROWS + 5 - rows_per_page, 0]
    cny, usd = sql_sums(currency="CNY"), sql_sums(currency="USD")
    assert result.totals_by_currency == {
        "CNY": {"vouchers": ROWS, **cny},
        "USD": {"vouchers": 5, **usd},
    }
    assert sums_on(texts[1], "Carried forward") == {
        "CNY": [cny["cap_cents"], cny["spent_cents"], cny["remaining_cents"]],
        "USD": [usd["cap_cents"], usd["spent_cents"], usd["remaining_cents"]],
    }
    assert set(sums_on(texts[-1], "Total")) == {"CNY", "USD"}
    assert "All programs" in texts[0]


@pytest.mark.django_db(transaction=True)
def test_register_reads_one_snapshot_outside_a_transaction() -> None:
    program = ProgramFactory(providers=[], criteria=False)
    make_vouchers(program, 3)
    result = render_voucher_register(program_id=program.pk, workers=0)
    assert result.vouchers == 3
    assert result.totals == sql_sums(program=program)


@pytest.mark.parametrize("workers", [0, 2])
def test_register_refuses_a_page_that_does_not_fit(
    program: Any, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    make_vouchers(program, 150)
    monkeypatch.setattr(register, "ROWS_PER_PAGE", 70)  # more lines than an A4 page holds
    with pytest.raises(RegisterError, match="pages instead of 1"):
        render_voucher_register(program_id=program.pk, workers=workers, chunk_size=70)


def test_register_of_an_unknown_program() -> None:
    from vouchers.models import Program

    with pytest.raises(Program.DoesNotExist):
        render_voucher_register(program_id=987_654, workers=0)


def test_fit_counts_cjk_as_two_columns_and_never_wraps() -> None:
    assert register.display_width("ab中文") == 6
    assert register.fit("中文", 6) == "中文  "
    assert register.fit("12.00", 8, right=True) == "   12.00"
    shortened = register.fit("深圳市智算科技有限公司", 9)
    assert shortened == "深圳市… " and register.display_width(shortened) == 9
    assert register.fit("a\tb\nc", 5) == "a b c"


def _render_from_daemon(directory: str, results: Any) -> None:
    try:
        html = '<html><body><section class="sheet">one page</section></body></html>'
        path = Path(directory) / "part.pdf"
        with register._Workers(1) as pool:
            pool.submit(0, path, [html, str(path), 1, "t", "en", "."])
            results.put([outcome[2][0] for outcome in pool.drain()])
    except BaseException as exc:  # the assertion is in the parent
        results.put(repr(exc))


def test_register_workers_start_inside_a_daemonic_process(tmp_path: Path) -> None:
    """A Celery prefork child is daemonic: multiprocessing could not start workers there."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_render_from_daemon, args=(str(tmp_path), results), daemon=True)
    child.start()
    outcome = results.get(timeout=120)
    child.join(timeout=30)
    assert outcome == [1]  # one page rendered by the worker
    assert (tmp_path / "part.pdf").read_bytes().startswith(b"%PDF-1.7")
