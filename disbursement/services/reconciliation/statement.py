"""The statement run: a provider's monthly statement (CSV) against its accepted claims.

A claim belongs to the month in which it was accepted (its `created_at`, in the project's time
zone): that is when the subsidy was charged to the voucher and what the provider is paid for,
whatever the service dates on the invoice say. Lines are matched by invoice number.
"""

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import DomainError, NotAllowedError
from core.money import MoneyError, parse_cents
from disbursement.models import Claim, Provider, ReconciliationRun
from disbursement.services.reconciliation.policy import may_upload_statement
from disbursement.services.reconciliation.runs import (
    BATCH,
    D,
    Run,
    Sink,
    finish_run,
    repeatable_read,
)
from vouchers import codes
from vouchers.models import Voucher

STATEMENT_MAX_BYTES = getattr(settings, "RECONCILIATION_STATEMENT_MAX_BYTES", 5 * 1024 * 1024)
STATEMENT_MAX_LINES = getattr(settings, "RECONCILIATION_STATEMENT_MAX_LINES", 50_000)
STATEMENT_COLUMNS = (
    "voucher_code",
    "invoice_number",
    "provider_reference",
    "amount",
    "currency",
    "service_date",
)


_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class StatementLine:
    number: int  # line in the file, the header being line 1
    voucher_code: str
    invoice_number: str
    provider_reference: str
    amount_cents: int
    currency: str
    service_date: date


def _bad_file(code: str, message: str, problems: list[str] | None = None) -> DomainError:
    return DomainError(message, code=code, fields={"file": problems or [message]})


def parse_statement(raw: bytes) -> list[StatementLine]:
    """Validate a statement file strictly and return its lines, or raise DomainError (with a
    code) saying what is wrong and where. Nothing is stored for a bad file."""
    if len(raw) > STATEMENT_MAX_BYTES:
        raise _too_large()
    if not raw.strip():
        raise _bad_file("statement_empty", _("The file is empty."))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _bad_file(
            "statement_not_utf8",
            _("The file is not UTF-8 text (byte %(pos)d). Save the CSV as UTF-8.")
            % {"pos": exc.start + 1},
        ) from exc
    if "\x00" in text:
        raise _bad_file("statement_not_utf8", _("The file is not a text CSV file."))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise _bad_file("statement_empty", _("The file is empty."))
        names = [h.strip().lower() for h in header]
        if names != list(STATEMENT_COLUMNS):
            missing = [c for c in STATEMENT_COLUMNS if c not in names]
            extra = [c for c in names if c not in STATEMENT_COLUMNS]
            raise _bad_file(
                "statement_columns",
                _(
                    "The first line must name the columns %(want)s, in this order. "
                    "Missing: %(missing)s. Not expected: %(extra)s."
                )
                % {
                    "want": ", ".join(STATEMENT_COLUMNS),
                    "missing": ", ".join(missing) or "-",
                    "extra": ", ".join(e or '""' for e in extra) or "-",
                },
            )
        lines: list[StatementLine] = []
        problems: list[str] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines (a trailing newline, a spreadsheet's empty row)
            if len(lines) + len(problems) >= STATEMENT_MAX_LINES:
                raise _bad_file(
                    "statement_too_large",
                    _("The statement has more than %(n)d lines.") % {"n": STATEMENT_MAX_LINES},
                )
            try:
                lines.append(_line(reader.line_num, row))
            except ValueError as exc:
                problems.append(str(exc))
                if len(problems) >= 20:
                    break
    except csv.Error as exc:
        raise _bad_file(
            "statement_malformed",
            _("Line %(n)d is not valid CSV: %(error)s.") % {"n": reader.line_num, "error": exc},
        ) from exc
    if problems:
        raise _bad_file(
            "statement_invalid_lines",
            _("%(n)s line(s) of the statement are invalid; nothing was stored. First: %(first)s")
            % {
                "n": f"{len(problems)}+" if len(problems) >= 20 else len(problems),
                "first": problems[0],
            },
            problems,
        )
    if not lines:
        raise _bad_file("statement_empty", _("The statement has a header but no lines."))
    return lines


def _line(number: int, row: list[str]) -> StatementLine:
    if len(row) != len(STATEMENT_COLUMNS):
        raise ValueError(
            _("Line %(n)d has %(got)d columns; %(want)d are expected.")
            % {"n": number, "got": len(row), "want": len(STATEMENT_COLUMNS)}
        )
    code, invoice, reference, amount, currency, service_date = (cell.strip() for cell in row)
    if not code or not invoice:
        raise ValueError(
            _("Line %(n)d: the voucher code and invoice number are required.") % {"n": number}
        )
    if len(code) > 40 or len(invoice) > 100 or len(reference) > 100:
        raise ValueError(_("Line %(n)d: a value is too long.") % {"n": number})
    try:
        cents = parse_cents(amount, allow_zero=True)
    except MoneyError as exc:
        raise ValueError(
            _("Line %(n)d: amount %(value)s: %(error)s")
            % {"n": number, "value": repr(amount[:30]), "error": exc.message}
        ) from exc
    if not _CURRENCY.match(currency):
        raise ValueError(
            _("Line %(n)d: currency must be a three-letter ISO 4217 code such as CNY.")
            % {"n": number}
        )
    try:
        served = date.fromisoformat(service_date)
        if len(service_date) != 10:
            raise ValueError(service_date)
    except ValueError as exc:
        raise ValueError(
            _("Line %(n)d: service_date must be a date written YYYY-MM-DD.") % {"n": number}
        ) from exc
    return StatementLine(number, code, invoice, reference, cents, currency, served)


def _too_large() -> DomainError:
    return _bad_file(
        "statement_too_large",
        _("The file is larger than %(n)s MB. Split the statement by month.")
        % {"n": f"{STATEMENT_MAX_BYTES / (1024 * 1024):g}"},
    )


def _read_upload(csv_file: Any) -> bytes:
    """The uploaded bytes, reading at most one byte more than the limit."""
    size = getattr(csv_file, "size", None)
    if size is not None and size > STATEMENT_MAX_BYTES:
        raise _too_large()
    if hasattr(csv_file, "seek"):
        csv_file.seek(0)
    data = csv_file.read(STATEMENT_MAX_BYTES + 1)
    return data.encode() if isinstance(data, str) else bytes(data)


def month_start(month: date) -> date:
    return month.replace(day=1)


def _month_bounds(month: date) -> tuple[datetime, datetime]:
    first = month_start(month)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(first, time.min), tz),
        timezone.make_aware(datetime.combine(following, time.min), tz),
    )


def reconcile_statement(
    *, actor: Any, provider_id: int, month: date, csv_file: IO[bytes] | Any
) -> ReconciliationRun:
    """Check a provider's statement of one month against its accepted claims of that month.

    Every line gets one row: matched (not a problem), or duplicate, unknown voucher, missing
    (no accepted claim of the month for that invoice: the detail says why) or amount differs;
    vouchers whose statement total exceeds the cap and accepted claims of the month that the
    statement leaves out get one row each. The file and its SHA-256 are stored on the run.
    A bad file raises DomainError with a code and nothing is stored.
    """
    provider = Provider.objects.filter(pk=provider_id).first()
    if provider is None:
        raise DomainError(_("There is no such provider."), code="not_found")
    if not may_upload_statement(actor, provider.pk):
        raise NotAllowedError(
            _("Only the provider's own staff, finance and approvers reconcile its statements.")
        )
    first = month_start(month)
    if first > timezone.localdate().replace(day=1):
        message = _("The statement month cannot be in the future.")
        raise DomainError(message, code="statement_month_future", fields={"month": [message]})
    raw = _read_upload(csv_file)
    lines = parse_statement(raw)
    digest = hashlib.sha256(raw).hexdigest()
    return _statement_run(actor, provider, first, raw, digest, lines)


@transaction.atomic(durable=True)
def _statement_run(
    actor: Any, provider: Provider, first: date, raw: bytes, digest: str, lines: list[StatementLine]
) -> ReconciliationRun:
    run = Run(
        kind=Run.Kind.STATEMENT,
        provider=provider,
        statement_month=first,
        statement_sha256=digest,
        started_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    repeatable_read()
    run.statement_file.save(
        f"{provider.pk}/{first:%Y-%m}-{digest[:16]}.csv", ContentFile(raw), save=False
    )
    run.save()
    sink = Sink(run)
    start, end = _month_bounds(first)
    claims = _claims_by_invoice(provider, {ln.invoice_number for ln in lines})
    vouchers = _vouchers_by_code(lines)
    seen: set[str] = set()
    totals: dict[str, int] = {}
    matched = 0
    for line in lines:
        base = {
            "line": line.number,
            "voucher_code": line.voucher_code,
            "reference": line.provider_reference,
            "service_date": str(line.service_date),
        }
        if line.invoice_number in seen:
            sink.add(
                D.STATEMENT_DUPLICATE, line.invoice_number, actual=line.amount_cents, detail=base
            )
            continue
        seen.add(line.invoice_number)
        voucher = vouchers.get(line.voucher_code)
        if not isinstance(voucher, Voucher):
            sink.add(
                D.STATEMENT_UNKNOWN_VOUCHER,
                line.invoice_number,
                expected=_("a valid voucher"),
                actual=line.voucher_code[:60],
                detail={**base, "reason": voucher},
            )
            continue
        totals[voucher.code] = totals.get(voucher.code, 0) + line.amount_cents
        matched += _compare_line(
            sink, line, voucher, claims.get(line.invoice_number), start, end, base
        )
    for code, total in totals.items():
        voucher = vouchers[code]
        assert isinstance(voucher, Voucher)  # noqa: S101  (only known vouchers are totalled)
        if total > voucher.cap_cents:
            sink.add(
                D.STATEMENT_OVER_CAP,
                voucher.code,
                expected=voucher.cap_cents,
                actual=total,
                detail={"voucher": voucher.pk, "currency": voucher.currency},
            )
    in_month = 0
    month_claims = (
        Claim.objects.filter(
            provider=provider,
            status=Claim.Status.ACCEPTED,
            created_at__gte=start,
            created_at__lt=end,
        )
        .order_by("pk")
        .values_list(
            "pk",
            "invoice_number",
            "provider_reference",
            "subsidy_cents",
            "voucher_code_submitted",
            "created_at",
        )
    )
    for pk, invoice, reference, subsidy, code, created in month_claims.iterator(chunk_size=BATCH):
        in_month += 1
        if invoice not in seen:
            sink.add(
                D.CLAIM_NOT_IN_STATEMENT,
                invoice,
                expected=subsidy,
                actual=_("not listed"),
                detail={
                    "claim": pk,
                    "reference": reference,
                    "voucher_code": code,
                    "accepted_at": created.isoformat(),
                },
            )
    finish_run(
        run,
        sink,
        {
            "lines": len(lines),
            "matched": matched,
            "claims_in_month": in_month,
            "month": f"{first:%Y-%m}",
            "vouchers": len(totals),
        },
    )
    return run


def _claims_by_invoice(provider: Provider, invoices: set[str]) -> dict[str, Claim]:
    """The provider's accepted or reversed claim for each invoice (at most one each: the
    database's claim_invoice_once constraint)."""
    found: dict[str, Claim] = {}
    ordered = sorted(invoices)
    for start in range(0, len(ordered), 1000):
        qs = Claim.objects.filter(
            provider=provider,
            invoice_number__in=ordered[start : start + 1000],
            status__in=[Claim.Status.ACCEPTED, Claim.Status.REVERSED],
        ).only(
            "pk",
            "invoice_number",
            "provider_reference",
            "status",
            "subsidy_cents",
            "currency",
            "voucher_id",
            "created_at",
        )
        found.update({c.invoice_number: c for c in qs})
    return found


def _vouchers_by_code(lines: list[StatementLine]) -> dict[str, Voucher | str]:
    """Each written code -> its voucher, or the reason it is not one."""
    result: dict[str, Voucher | str] = {}
    canonical: dict[str, list[str]] = {}
    for written in {ln.voucher_code for ln in lines}:
        try:
            canonical.setdefault(codes.normalize(written), []).append(written)
        except codes.VoucherCodeError as exc:
            result[written] = (
                "bad_check_character" if exc.code == "voucher_code_check_character" else exc.code
            )
    ordered = sorted(canonical)
    for start in range(0, len(ordered), 1000):
        qs = Voucher.objects.filter(code__in=ordered[start : start + 1000]).only(
            "pk", "code", "cap_cents", "currency"
        )
        for voucher in qs:
            for written in canonical.pop(voucher.code):
                result[written] = voucher
    for written_codes in canonical.values():
        for written in written_codes:
            result[written] = "not_found"
    return result


def _compare_line(
    sink: Sink,
    line: StatementLine,
    voucher: Voucher,
    claim: Claim | None,
    start: datetime,
    end: datetime,
    base: dict[str, Any],
) -> int:
    """Record one known-voucher line; returns 1 if it matched."""
    reason = ""
    if claim is None:
        reason = "no_claim"
    elif claim.status == Claim.Status.REVERSED:
        reason = "reversed"
    elif not start <= claim.created_at < end:
        reason = "other_month"
    elif claim.voucher_id != voucher.pk:
        reason = "other_voucher"
    if reason:
        detail = {**base, "reason": reason}
        if claim is not None:
            detail |= {
                "claim": claim.pk,
                "claim_month": f"{timezone.localtime(claim.created_at):%Y-%m}",
            }
        sink.add(
            D.STATEMENT_MISSING,
            line.invoice_number,
            expected=_("an accepted claim"),
            actual=line.amount_cents,
            detail=detail,
        )
        return 0
    assert claim is not None  # noqa: S101  (reason is set when there is no claim)
    detail = {
        **base,
        "claim": claim.pk,
        "claim_reference": claim.provider_reference,
        "currency": claim.currency,
    }
    if claim.subsidy_cents != line.amount_cents or claim.currency != line.currency:
        sink.add(
            D.STATEMENT_AMOUNT,
            line.invoice_number,
            expected=claim.subsidy_cents,
            actual=line.amount_cents,
            detail={**detail, "statement_currency": line.currency},
        )
        return 0
    sink.add(
        D.STATEMENT_MATCHED,
        line.invoice_number,
        expected=claim.subsidy_cents,
        actual=line.amount_cents,
        detail=detail,
        is_problem=False,
    )
    return 1
