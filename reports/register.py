"""The voucher register: every voucher of a program (or of all), as PDF/A-3b with the CSV inside.

Built to stay in bounded memory at 100,000 vouchers and beyond:

1. Snapshot. In one read-only REPEATABLE READ transaction (the caller's, if there is one), the
   database sums per currency and status are read, then the rows are streamed (server-side
   cursor, only the columns shown, ordered by code) straight into the CSV, a temporary file.
   The sums of the streamed rows must equal the SQL sums, or nothing is rendered.
2. Layout. Every page is one "sheet" of fixed-pitch text lines laid out here in Python (fixed
   display widths, CJK counted double, long names shortened), so no line can wrap and each
   sheet is exactly one page. The page count, hence "Page X of N", and every page's brought-
   forward, page-total and carried-forward lines are known before anything is rendered.
3. Render. Sheets are grouped into chunks of about `chunk_size` rows (whole pages), each chunk's
   HTML rendered by WeasyPrint (PDF/A-3b) in `workers` worker subprocesses (fresh interpreters:
   no Django, no database connection; plain subprocesses because a Celery prefork child may
   not start multiprocessing children), at most two chunks in flight per worker, the CSV
   re-read as it goes. A worker checks its page count against the plan.
4. Merge. The chunk PDFs are appended in order with pypdf as they arrive; the XMP metadata,
   OutputIntent, language and document info of the first chunk are carried into the merged
   file, and the CSV is embedded as a PDF/A-3 associated file (/Data).
"""

import csv
import io
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.money import format_money
from reports.pdf import Attachment, ReportRenderError, add_associated_file, render_pdf

CSV_NAME = "voucher-register.csv"
CSV_COLUMNS = [
    "code", "status", "currency", "cap_cents", "spent_cents", "remaining_cents",
    "valid_from", "valid_until", "program", "registration_number", "organization",
]  # fmt: skip
TEMPLATE = "reports/pdf/register.html"
ROWS_PER_PAGE = 40  # with one currency; each further currency takes 3 lines (b/f, total, c/f)
LINES_PER_SHEET = 47  # body + sums lines that fit under the header on A4 landscape
LINE_WIDTH = 204  # display columns of 7.5pt fixed-pitch text across 277 mm
GAP = "  "
STATUS_LABELS = {
    "issued": _("Issued"),
    "active": _("Active"),
    "exhausted": _("Fully used"),
    "expired": _("Expired"),
    "suspended": _("Suspended"),
    "revoked": _("Revoked"),
}
# (label, display width, right-aligned); organization last: its width is the rest of the line,
# and a name whose characters are not exactly one or two columns wide shifts nothing after it.
COLUMNS: list[tuple[Any, int, bool]] = [
    (_("Code"), 19, False),
    (_("Status"), 10, False),
    (_("Cur."), 4, False),
    (_("Cap"), 18, True),
    (_("Spent"), 18, True),
    (_("Remaining"), 18, True),
    (_("Valid from"), 10, False),
    (_("Valid until"), 11, False),
    (_("Program"), 12, False),
    (_("Registration no."), 18, False),
]
NAME_WIDTH = LINE_WIDTH - sum(width for _l, width, _r in COLUMNS) - len(GAP) * len(COLUMNS)
AMOUNTS_AT = sum(width for _l, width, _r in COLUMNS[:3]) + 3 * len(GAP)  # where "Cap" starts


class RegisterError(ReportRenderError):
    """The register could not be produced consistently (sums, page plan or rendering)."""


@dataclass(frozen=True)
class RegisterResult:
    pdf: bytes
    csv: bytes
    pages: int
    vouchers: int
    totals: dict[str, int]  # cap_cents, spent_cents, remaining_cents (sums over all vouchers)
    # Per currency, the same three sums plus "vouchers": what the grand total page shows (the
    # sums above add across currencies if a register of all programs has more than one).
    totals_by_currency: dict[str, dict[str, int]] = field(default_factory=dict)
    # Peak resident memory (VmHWM, bytes) of each rendering worker process, by pid.
    worker_peak_rss: dict[int, int] = field(default_factory=dict)


# --- Fixed-pitch layout -----------------------------------------------------------------------


def display_width(text: str) -> int:
    """Columns `text` takes in the fixed-pitch CJK font: CJK and full-width characters two,
    as do the ambiguous-width punctuation and symbols (… · ’) that CJK fonts draw full width."""
    width = 0
    for char in text:
        if char.isascii():
            width += 1
            continue
        kind = unicodedata.east_asian_width(char)
        wide = kind in "WF" or (kind == "A" and unicodedata.category(char)[0] in "PS")
        width += 2 if wide else 1
    return width


def fit(text: str, width: int, *, right: bool = False) -> str:
    """`text` padded to `width` columns; shortened with "…" if it is wider."""
    text = " ".join(text.split())  # no tabs or line breaks inside a cell
    used = display_width(text)
    if used > width:
        kept, used = [], 0
        for char in text:
            step = display_width(char)
            if used + step > width - 2:  # "…" is two columns wide
                break
            kept.append(char)
            used += step
        text, used = "".join(kept) + "…", used + 2
    pad = " " * max(0, width - used)
    return pad + text if right else text + pad


def row_line(row: Sequence[str]) -> str:
    """One voucher as a register line (`row` is a CSV row, amounts in cents)."""
    code, status, currency, cap, spent, remaining, valid_from, valid_until, prog, reg, org = row
    cells = [
        fit(code, 19),
        fit(str(STATUS_LABELS.get(status, status)), 10),
        fit(currency, 4),
        # Amounts are never shortened: a wider one pushes the rest of its line to the right.
        format_money(int(cap)).rjust(18),
        format_money(int(spent)).rjust(18),
        format_money(int(remaining)).rjust(18),
        fit(valid_from[:10], 10),
        fit(valid_until[:10], 11),
        fit(prog, 12),
        fit(reg, 18),
        fit(org, NAME_WIDTH),
    ]
    return GAP.join(cells).rstrip()


def sums_line(label: str, currency: str, sums: Sequence[int]) -> str:
    head = fit(label, AMOUNTS_AT - len(GAP) - 4) + GAP + fit(currency, 4)
    return GAP.join([head, *(format_money(value).rjust(18) for value in sums)]).rstrip()


def header_line() -> str:
    cells = [fit(str(label), width, right=right) for label, width, right in COLUMNS]
    return GAP.join([*cells, fit(str(_("Organization")), NAME_WIDTH)]).rstrip()


def spread(left: str, right: str) -> str:
    """`left` and `right` on one line of LINE_WIDTH columns (left shortened if need be)."""
    right_width = display_width(right)
    return fit(left, LINE_WIDTH - right_width - 2) + GAP + right


# --- Snapshot ---------------------------------------------------------------------------------


@dataclass
class Snapshot:
    csv_path: Path
    vouchers: int
    currencies: list[str]
    sql_totals: dict[str, list[int]]  # currency -> [vouchers, cap, spent, remaining]
    sql_by_status: list[tuple[str, str, int, int, int, int]]  # currency, status, n, cap, ...
    program_label: str


@contextmanager
def _consistent_read() -> Iterator[None]:
    """One snapshot for the sums and the rows, so they agree even while claims come in.

    Inside a caller's transaction (tests, a service) that transaction's snapshot is used.
    """
    from django.db import connection, transaction

    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        # SQLite's transaction already is one snapshot (one writer at a time, IMMEDIATE).
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # must be the transaction's first statement
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _take_snapshot(
    *, program_id: int | None, directory: Path, chunk_size: int, language: str
) -> Snapshot:
    from django.db.models import Count, F, Sum
    from django.utils import timezone

    from vouchers.models import Program, Voucher

    vouchers = Voucher.objects.all()
    if program_id is None:
        program_label = str(_("All programs"))
    else:
        program = Program.objects.get(pk=program_id)
        use_zh = language.startswith("zh") and bool(program.name_zh)
        program_label = f"{program.code} {program.name_zh if use_zh else program.name}"
        vouchers = vouchers.filter(program_id=program_id)

    csv_path = directory / CSV_NAME
    row_sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    with _consistent_read():
        groups = (
            vouchers.order_by()
            .values_list("currency", "status")
            .annotate(
                n=Count("id"),
                cap=Sum("cap_cents"),
                spent=Sum("spent_cents"),
                remaining=Sum(F("cap_cents") - F("spent_cents")),
            )
            .order_by("currency", "status")
        )
        by_status = [tuple(group) for group in groups]
        totals = {
            currency: [n, cap, spent, remaining]
            for currency, n, cap, spent, remaining in vouchers.order_by()
            .values_list("currency")
            .annotate(
                n=Count("id"),
                cap=Sum("cap_cents"),
                spent=Sum("spent_cents"),
                remaining=Sum(F("cap_cents") - F("spent_cents")),
            )
            .order_by("currency")
        }
        rows = vouchers.order_by("code").values_list(
            "code", "status", "currency", "cap_cents", "spent_cents", "valid_from",
            "valid_until", "program__code", "organization__registration_number",
            "organization__legal_name",
        )  # fmt: skip
        count = 0
        with open(csv_path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            for code, status, cur, cap, spent, start, end, prog, reg, org in rows.iterator(
                chunk_size=chunk_size
            ):
                sums = row_sums[cur]
                sums[0] += 1
                sums[1] += cap
                sums[2] += spent
                sums[3] += cap - spent
                count += 1
                writer.writerow(
                    [
                        code, status, cur, cap, spent, cap - spent,
                        timezone.localtime(start).isoformat(),
                        timezone.localtime(end).isoformat(), prog, reg, org,
                    ]
                )  # fmt: skip
    if dict(row_sums) != totals:
        raise RegisterError(
            f"the rows do not add up to the database sums: rows {dict(row_sums)}, sums {totals}"
        )
    return Snapshot(
        csv_path=csv_path,
        vouchers=count,
        currencies=sorted(totals),
        sql_totals=totals,
        sql_by_status=by_status,  # type: ignore[arg-type]
        program_label=program_label,
    )


# --- Page plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    title: str
    generated: str
    program_label: str
    vouchers: int
    currencies: list[str]
    rows_per_page: int
    pages_per_part: int
    data_pages: int
    total_pages: int
    grand_total: list[list[str]]  # the grand total page(s): their body lines


def _plan(snapshot: Snapshot, *, chunk_size: int, anchor: dict[str, Any] | None = None) -> Plan:
    from django.utils import timezone

    currencies = snapshot.currencies or [""]
    rows_per_page = max(10, ROWS_PER_PAGE - 3 * (len(currencies) - 1))
    data_pages = -(-snapshot.vouchers // rows_per_page)
    grand = _grand_total_lines(snapshot) + _anchor_lines(anchor)
    grand_pages = [grand[i : i + LINES_PER_SHEET] for i in range(0, len(grand), LINES_PER_SHEET)]
    return Plan(
        title=str(_("Voucher register")),
        generated=timezone.localtime().strftime("%Y-%m-%d %H:%M %Z"),
        program_label=snapshot.program_label,
        vouchers=snapshot.vouchers,
        currencies=currencies,
        rows_per_page=rows_per_page,
        pages_per_part=max(1, chunk_size // rows_per_page),
        data_pages=data_pages,
        total_pages=data_pages + len(grand_pages),
        grand_total=grand_pages,
    )


def _anchor_lines(anchor: dict[str, Any] | None) -> list[str]:
    """The audit checkpoint sealed for this report (see reports.services._anchor)."""
    if not anchor:
        return []
    return [
        "",
        str(
            _(
                "Audit trail: checkpoint %(seq)s, sealed %(sealed)s over %(events)s events in "
                "%(streams)s streams:"
            )
        )
        % {
            "seq": anchor["seq"],
            "sealed": anchor["sealed_at"],
            "events": anchor["events"],
            "streams": anchor["streams"],
        },
        anchor["hash"],
    ]


def _grand_total_lines(snapshot: Snapshot) -> list[str]:
    vouchers = str(_("Vouchers"))
    head = GAP.join(
        [
            fit("", AMOUNTS_AT - len(GAP) - 4),
            fit(str(_("Cur.")), 4),
            *(fit(str(label), 18, right=True) for label, _w, _r in COLUMNS[3:6]),
            fit(vouchers, 12, right=True),
        ]
    )
    lines = [str(_("Grand total: sums computed by the database, per currency")), "", head]
    if not snapshot.vouchers:
        lines.append(str(_("This register has no vouchers.")))
    for currency in snapshot.currencies:
        n, *sums = snapshot.sql_totals[currency]
        lines.append(sums_line(str(_("Total")), currency, sums) + GAP + f"{n:,}".rjust(12))
    if snapshot.sql_by_status:
        lines += ["", str(_("By status")), head]
    for currency, status, n, cap, spent, remaining in snapshot.sql_by_status:
        label = str(STATUS_LABELS.get(status, status))
        lines.append(sums_line(label, currency, [cap, spent, remaining]) + GAP + f"{n:,}".rjust(12))
    lines += [
        "",
        str(
            _(
                "The rows of this register, added up page by page (carried forward), equal "
                "these database sums: checked when the register was produced."
            )
        ),
        str(
            _(
                "The full register is embedded in this PDF as %(name)s (UTF-8, one line per "
                "voucher, ordered by code, amounts in cents)."
            )
            % {"name": CSV_NAME}
        ),
        str(_("Long organization names are shortened (…) on the pages; the CSV has them whole.")),
    ]
    return lines


def _sheet(
    plan: Plan, page: int, body: list[str], sums: list[str], *, columns: bool = True
) -> dict[str, Any]:
    subtitle = f"{plan.program_label} · " + str(_("%(count)s vouchers")) % {
        "count": f"{plan.vouchers:,}"
    }
    return {
        "head": [spread(plan.title, plan.generated), spread(subtitle, str(_("Amounts in units")))],
        "columns": header_line() if columns else "",
        "body": body,
        "sums": sums,
        "foot": spread(
            f"{plan.title} · {plan.program_label}",
            str(_("Page %(page)s of %(pages)s")) % {"page": page, "pages": plan.total_pages},
        ),
    }


def _data_sheets(plan: Plan, csv_path: Path) -> Iterator[dict[str, Any]]:
    """The register's pages in order, each with brought-forward, page and carried-forward sums."""
    carried = {currency: [0, 0, 0] for currency in plan.currencies}
    with open(csv_path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)  # the header
        for page in range(1, plan.data_pages + 1):
            brought = {currency: list(sums) for currency, sums in carried.items()}
            page_sums = {currency: [0, 0, 0] for currency in plan.currencies}
            lines = []
            for row in reader:
                lines.append(row_line(row))
                sums = page_sums[row[2]]
                sums[0] += int(row[3])
                sums[1] += int(row[4])
                sums[2] += int(row[5])
                if len(lines) == plan.rows_per_page:
                    break
            for currency, sums in page_sums.items():
                carried[currency] = [a + b for a, b in zip(carried[currency], sums, strict=True)]
            label_bf = str(_("Brought forward"))
            head = [
                sums_line(label_bf, currency, brought[currency]) if page > 1 else ""
                for currency in plan.currencies
            ]
            body = head + lines + [""] * (plan.rows_per_page - len(lines))
            sums_lines = [
                sums_line(str(_("Page total")), currency, page_sums[currency])
                for currency in plan.currencies
            ] + [
                sums_line(str(_("Carried forward")), currency, carried[currency])
                for currency in plan.currencies
            ]
            yield _sheet(plan, page, body, sums_lines)


def _font_url() -> str:
    """The CJK font the award letters use (vouchers/documents.py), as the fallback face."""
    from vouchers.documents import LetterRenderError, cjk_font_path

    try:
        return cjk_font_path().as_uri()
    except LetterRenderError as exc:
        raise RegisterError(str(exc)) from exc


def _parts(plan: Plan, csv_path: Path, language: str) -> Iterator[tuple[str, int]]:
    """(HTML, number of pages) of each chunk, in order; the grand total page(s) come last."""
    from django.template.loader import render_to_string
    from django.utils import translation

    context = {"language": language, "title": plan.title, "font_url": _font_url()}
    with translation.override(language):
        batch: list[dict[str, Any]] = []
        for sheet in _data_sheets(plan, csv_path):
            batch.append(sheet)
            if len(batch) == plan.pages_per_part:
                yield render_to_string(TEMPLATE, {**context, "sheets": batch}), len(batch)
                batch = []
        if batch:
            yield render_to_string(TEMPLATE, {**context, "sheets": batch}), len(batch)
        first = plan.data_pages + 1
        grand = [
            _sheet(plan, first + i, body, [], columns=False)
            for i, body in enumerate(plan.grand_total)
        ]
        yield render_to_string(TEMPLATE, {**context, "sheets": grand}), len(grand)


# --- Rendering ---------------------------------------------------------------------------------


def _peak_rss() -> int:
    """This process's peak resident memory (VmHWM) in bytes."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _render_part(
    html: str, path: str, expected_pages: int, title: str, language: str, base_url: str
) -> tuple[int, int, int]:
    """Render one chunk to `path` (runs in a worker process: no Django, no database).

    Returns (pages, pid, peak RSS); raises RegisterError if the page count is not the plan's.
    """
    from pypdf import PdfReader

    pdf = render_pdf(html, base_url=base_url, title=title, lang=language)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    if pages != expected_pages:
        raise RegisterError(
            f"a chunk came out with {pages} pages instead of {expected_pages}: a line wrapped "
            "or the page is too short for the planned lines"
        )
    Path(path).write_bytes(pdf)
    return pages, os.getpid(), _peak_rss()


class _Merger:
    """Appends chunk PDFs in order; the first one gives the merged file its PDF/A catalog."""

    def __init__(self) -> None:
        from pypdf import PdfWriter

        self.writer = PdfWriter()
        self.writer.pdf_header = "%PDF-1.7"
        self.pages = 0

    def add(self, path: Path) -> None:
        from pypdf import PdfReader
        from pypdf.generic import NameObject

        reader = PdfReader(path)
        if self.pages == 0:
            # PDF/A-3b: XMP (pdfaid part 3, conformance B), sRGB OutputIntent, language, and a
            # document info dictionary that agrees with the XMP (Producer, Title).
            source = reader.root_object
            for key in ("/Metadata", "/OutputIntents", "/Lang"):
                if key in source:
                    self.writer.root_object[NameObject(key)] = source.raw_get(key).clone(
                        self.writer
                    )
            if reader.metadata:
                self.writer.add_metadata(dict(reader.metadata))
        self.writer.append(reader, import_outline=False)
        self.pages += len(reader.pages)
        path.unlink()

    def finish(self, attachment: Attachment) -> bytes:
        add_associated_file(self.writer, attachment)
        self.writer.generate_file_identifiers()  # PDF/A wants a trailer /ID
        buffer = io.BytesIO()
        self.writer.write(buffer)
        return buffer.getvalue()


def _result_totals(snapshot: Snapshot) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    by_currency = {
        currency: {"vouchers": n, "cap_cents": cap, "spent_cents": spent, "remaining_cents": rem}
        for currency, (n, cap, spent, rem) in snapshot.sql_totals.items()
    }
    totals = {
        key: sum(values[key] for values in by_currency.values())
        for key in ("cap_cents", "spent_cents", "remaining_cents")
    }
    return totals, by_currency


def _worker_main() -> None:
    """A rendering worker: one JSON task per line on stdin, one JSON reply per line.

    Started by _Workers as a plain subprocess, not with multiprocessing: a Celery prefork
    child is a daemonic process, and multiprocessing refuses to start children there.
    """
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the replies
    for line in sys.stdin:
        try:
            reply: dict[str, Any] = {"ok": _render_part(*json.loads(line))}
        except Exception as exc:  # reported to the parent, which raises RegisterError
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


class _Workers:
    """`count` worker subprocesses, each fed by a thread; at most two chunks per worker are
    in flight (one rendering, one queued), so the parent never holds more HTML than that."""

    def __init__(self, count: int) -> None:
        self.tasks: queue.Queue[tuple[int, Path, list[Any]] | None] = queue.Queue(count)
        self.results: queue.Queue[tuple[int, Path, dict[str, Any]]] = queue.Queue()
        self.submitted = self.returned = 0
        command = [sys.executable, "-c", "from reports.register import _worker_main as m; m()"]
        self.processes = [
            subprocess.Popen(  # noqa: S603  (our own interpreter and module, no user input)
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=settings.BASE_DIR,
                text=True,
                encoding="utf-8",
            )
            for _ in range(count)
        ]
        self.threads = [
            threading.Thread(target=self._feed, args=(process,), daemon=True)
            for process in self.processes
        ]
        for thread in self.threads:
            thread.start()

    def _feed(self, process: "subprocess.Popen[str]") -> None:
        stdin, stdout = process.stdin, process.stdout
        if stdin is None or stdout is None:  # never: both are pipes
            return
        while (task := self.tasks.get()) is not None:
            index, path, payload = task
            try:
                stdin.write(json.dumps(payload) + "\n")
                stdin.flush()
                line = stdout.readline()
            except OSError:
                line = ""
            reply = json.loads(line) if line else {"error": "a rendering worker died"}
            self.results.put((index, path, reply))

    def _outcome(self, item: tuple[int, Path, dict[str, Any]]) -> tuple[int, Path, Any]:
        index, path, reply = item
        self.returned += 1
        if "error" in reply:
            raise RegisterError(f"chunk {index} failed: {reply['error']}")
        return index, path, tuple(reply["ok"])

    def submit(self, index: int, path: Path, payload: list[Any]) -> None:
        self.tasks.put((index, path, payload))  # blocks while every worker has one queued
        self.submitted += 1

    def ready(self) -> Iterator[tuple[int, Path, Any]]:
        while True:
            try:
                item = self.results.get_nowait()
            except queue.Empty:
                return
            yield self._outcome(item)

    def drain(self) -> Iterator[tuple[int, Path, Any]]:
        while self.returned < self.submitted:
            yield self._outcome(self.results.get())

    def __enter__(self) -> "_Workers":
        return self

    def __exit__(self, *exc: object) -> None:
        while True:  # after an error: drop what was not started, so every feeder sees the end
            try:
                self.tasks.get_nowait()
            except queue.Empty:
                break
        for _thread in self.threads:
            try:
                self.tasks.put_nowait(None)
            except queue.Full:  # a feeder still busy takes its None after its current task
                break
        for process in self.processes:
            if process.stdin is not None:
                process.stdin.close()  # the worker's loop ends
        for process in self.processes:
            try:
                process.wait(timeout=30 if exc[0] is None else 0.1)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class _Assembly:
    """Chunks come back in any order; they are merged in order, and progress is reported."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.merger = _Merger()
        self.total, self.progress = total, progress
        self.waiting: dict[int, Path] = {}
        self.next_index = 0
        self.completed = 0
        self.peaks: dict[int, int] = {}

    def finished(self, index: int, path: Path, outcome: tuple[int, int, int]) -> None:
        _pages, pid, peak = outcome
        self.peaks[pid] = max(peak, self.peaks.get(pid, 0))
        self.waiting[index] = path
        while self.next_index in self.waiting:
            self.merger.add(self.waiting.pop(self.next_index))
            self.next_index += 1
        self.completed += 1
        if self.progress is not None:
            self.progress(self.completed, self.total)


def render_voucher_register(
    *,
    program_id: int | None,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    language: str = "en",
    chunk_size: int = 2000,
    anchor: dict[str, Any] | None = None,
) -> RegisterResult:
    """The voucher register of one program (or of all, `program_id=None`) as PDF/A-3b + CSV.

    Renders chunks of about `chunk_size` rows (rounded down to whole pages, at least one) in
    `workers` spawned processes (0, or a single chunk of rows: chunk by chunk in this
    process). `progress(done, total)` is called after each chunk, counted in chunks (the
    grand total page is the last one).
    Reads only; raises RegisterError if the rows and the database sums disagree or a chunk
    does not come out as planned, Program.DoesNotExist for an unknown program.
    """
    from django.utils import translation

    with translation.override(language), tempfile.TemporaryDirectory(prefix="register-") as tmp:
        directory = Path(tmp)
        snapshot = _take_snapshot(
            program_id=program_id, directory=directory, chunk_size=chunk_size, language=language
        )
        plan = _plan(snapshot, chunk_size=chunk_size, anchor=anchor)
        assembly = _Assembly(-(-plan.data_pages // plan.pages_per_part) + 1, progress)
        parts = _parts(plan, snapshot.csv_path, language)
        args = (plan.title, language, str(settings.BASE_DIR))
        # One chunk of rows (or none) is rendered here: starting workers would cost more.
        if workers <= 0 or plan.data_pages <= plan.pages_per_part:
            for index, (html, expected) in enumerate(parts):
                path = directory / f"part-{index:05d}.pdf"
                assembly.finished(index, path, _render_part(html, str(path), expected, *args))
        else:
            with _Workers(workers) as pool:
                for index, (html, expected) in enumerate(parts):
                    path = directory / f"part-{index:05d}.pdf"
                    pool.submit(index, path, [html, str(path), expected, *args])
                    for outcome in pool.ready():
                        assembly.finished(*outcome)
                for outcome in pool.drain():
                    assembly.finished(*outcome)
        if assembly.merger.pages != plan.total_pages:
            raise RegisterError(f"merged {assembly.merger.pages} pages, planned {plan.total_pages}")
        csv_bytes = snapshot.csv_path.read_bytes()
        description = str(_("The voucher register, one line per voucher (amounts in cents)"))
        pdf = assembly.merger.finish(Attachment(CSV_NAME, csv_bytes, "text/csv", description))
    totals, by_currency = _result_totals(snapshot)
    return RegisterResult(
        pdf=pdf,
        csv=csv_bytes,
        pages=plan.total_pages,
        vouchers=snapshot.vouchers,
        totals=totals,
        totals_by_currency=by_currency,
        worker_peak_rss=assembly.peaks,
    )


def render_voucher_register_one_document(
    *, program_id: int | None, language: str = "en"
) -> RegisterResult:
    """The same register as ONE WeasyPrint document rendered in this process.

    The baseline bench/reports.py compares the chunked render with: same snapshot, same pages
    and HTML, CSV attached by WeasyPrint. Its memory grows with the register (no bound).
    """
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override(language), tempfile.TemporaryDirectory(prefix="register-") as tmp:
        snapshot = _take_snapshot(
            program_id=program_id, directory=Path(tmp), chunk_size=2000, language=language
        )
        plan = _plan(snapshot, chunk_size=2000)
        sheets = [*_data_sheets(plan, snapshot.csv_path)] + [
            _sheet(plan, plan.data_pages + 1 + i, body, [], columns=False)
            for i, body in enumerate(plan.grand_total)
        ]
        html = render_to_string(
            TEMPLATE,
            {"language": language, "title": plan.title, "font_url": _font_url(), "sheets": sheets},
        )
        del sheets
        csv_bytes = snapshot.csv_path.read_bytes()
        description = str(_("The voucher register, one line per voucher (amounts in cents)"))
        pdf = render_pdf(
            html,
            base_url=str(settings.BASE_DIR),
            attachments=[Attachment(CSV_NAME, csv_bytes, "text/csv", description)],
            title=plan.title,
            lang=language,
        )
    totals, by_currency = _result_totals(snapshot)
    return RegisterResult(
        pdf=pdf,
        csv=csv_bytes,
        pages=plan.total_pages,
        vouchers=snapshot.vouchers,
        totals=totals,
        totals_by_currency=by_currency,
        worker_peak_rss={os.getpid(): _peak_rss()},
    )
