"""Claims: a provider redeems part of a voucher against an invoice.

The provider's reference is the idempotency key: the same reference with the same body returns
the first answer (accepted or rejected); with a different body it is refused (409). The voucher
row is locked for the whole decision, so concurrent claims on one voucher never spend past its
cap; the database checks 0 <= spent <= cap as well.
"""

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from applicants.models import Organization
from audit.models import AuditAction
from audit.services import audit_record, canonical_json
from core.exceptions import ConflictError
from core.money import format_money
from core.sql import insert, insert_many, instance_from_row, select_list
from disbursement.models import Alert, Claim, ClaimLine, LedgerEntry, Provider, ProviderAffiliation
from disbursement.models import RejectionCode as R
from disbursement.services.ledger import crossed_thresholds, ledger_append
from disbursement.subsidy import Line, calculate
from notifications.services import notification_enqueue
from vouchers import codes
from vouchers.models import Voucher
from vouchers.models.program import Program


@dataclass(frozen=True)
class LineInput:
    chip_origin: str
    gpu_hours: Decimal
    amount_cents: int
    description: str = ""


@dataclass(frozen=True)
class ClaimInput:
    voucher_code: str
    provider_reference: str
    invoice_number: str
    invoice_total_cents: int
    currency: str
    service_period_start: date
    service_period_end: date
    lines: list[LineInput]

    def fingerprint(self) -> str:
        """SHA-256 of the request's content, to tell a retry from a different claim."""
        body = {
            "voucher_code": self.voucher_code.strip().upper(),
            "invoice_number": self.invoice_number,
            "invoice_total_cents": self.invoice_total_cents,
            "currency": self.currency,
            "period": [self.service_period_start.isoformat(), self.service_period_end.isoformat()],
            "lines": [
                [ln.chip_origin, str(ln.gpu_hours.normalize()), ln.amount_cents, ln.description]
                for ln in self.lines
            ],
        }
        return hashlib.sha256(canonical_json(body).encode()).hexdigest()


@dataclass(frozen=True)
class ClaimOutcome:
    claim: Claim
    replayed: bool


class _Rejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message


def claim_submit(*, actor: User, provider: Provider, data: ClaimInput) -> ClaimOutcome:
    """Decide a claim and record it: accepted (money moves) or rejected (with a reason code).

    A reference the provider used before answers with the claim recorded then (a replay), or
    a conflict if the request differs. The database's unique constraints find the repeat:
    recording the claim fails, the transaction rolls back whole, and we look it up. A new
    claim, the usual case, pays for no lookup.
    """
    fingerprint = data.fingerprint()
    for _attempt in range(3):
        try:
            return ClaimOutcome(
                _decide(actor=actor, provider=provider, data=data, fingerprint=fingerprint),
                replayed=False,
            )
        except IntegrityError:
            existing = Claim.objects.filter(
                provider=provider, provider_reference=data.provider_reference
            ).first()
            if existing is None:
                # Another request committed the same invoice first: decide again, and this
                # time the invoice check refuses it as a duplicate.
                continue
            if existing.request_sha256 != fingerprint:
                message = _(
                    "The reference %(ref)s was already used for a different claim. "
                    "Use a new reference for a new invoice."
                ) % {"ref": data.provider_reference}
                raise ConflictError(
                    message, code="idempotency_conflict", fields={"reference": [message]}
                ) from None
            return ClaimOutcome(existing, replayed=True)
    raise ConflictError(_("The claim could not be recorded; try again."), code="retry")


@transaction.atomic(durable=True)
def _decide(*, actor: User, provider: Provider, data: ClaimInput, fingerprint: str) -> Claim:
    voucher: Voucher | None = None
    code_text = data.voucher_code.strip()[:40]
    try:
        voucher = _lock_voucher(data.voucher_code, provider, data.invoice_number)
        calc = _check(voucher, provider, data)
    except _Rejected as rejection:
        return _record_rejection(actor, provider, data, fingerprint, voucher, code_text, rejection)
    claim = Claim(
        provider=provider,
        provider_reference=data.provider_reference,
        request_sha256=fingerprint,
        voucher=voucher,
        voucher_code_submitted=code_text,
        invoice_number=data.invoice_number,
        invoice_total_cents=data.invoice_total_cents,
        currency=data.currency,
        service_period_start=data.service_period_start,
        service_period_end=data.service_period_end,
        status=Claim.Status.ACCEPTED,
        eligible_cents=calc.eligible_cents,
        subsidy_cents=calc.subsidy_cents,
        billed_to_startup_cents=data.invoice_total_cents - calc.subsidy_cents,
        calculation={
            **calc.trace,
            "voucher": voucher.code,
            "invoice_total_cents": data.invoice_total_cents,
            "billed_to_startup_cents": data.invoice_total_cents - calc.subsidy_cents,
        },
        submitted_by=actor,
    )
    insert(claim)
    insert_many(
        [
            ClaimLine(
                claim=claim,
                position=r.position,
                description=ln.description[:200],
                chip_origin=ln.chip_origin,
                gpu_hours=ln.gpu_hours,
                amount_cents=ln.amount_cents,
                rate_bps=r.rate_bps,
                subsidy_cents=r.subsidy_cents,
            )
            for r, ln in zip(calc.lines, data.lines, strict=True)
        ]
    )
    spent_before = voucher.spent_cents
    ledger_append(
        voucher=voucher,
        kind=LedgerEntry.Kind.CHARGE,
        spent_delta=calc.subsidy_cents,
        claim=claim,
        actor=actor,
        idempotency_key=f"claim:{claim.pk}",
    )
    if voucher.spent_cents == voucher.cap_cents:
        Voucher.objects.filter(pk=voucher.pk).update(status=Voucher.Status.EXHAUSTED)
        voucher.status = Voucher.Status.EXHAUSTED
    audit_record(
        actor=actor,
        action=AuditAction.CLAIM_ACCEPTED,
        target=voucher,
        data={
            "claim": claim.pk,
            "provider": provider.short_name,
            "reference": data.provider_reference,
            "invoice": data.invoice_number,
            "subsidy_cents": calc.subsidy_cents,
            "spent_cents": {"before": spent_before, "after": voucher.spent_cents},
            "clamped_cents": calc.clamped_cents,
        },
    )
    for threshold in crossed_thresholds(
        cap_cents=voucher.cap_cents, spent_before=spent_before, spent_after=voucher.spent_cents
    ):
        _threshold_alert(voucher, threshold)
    return claim


def _lock_voucher(code_text: str, provider: Provider, invoice_number: str) -> Voucher:
    """Find the voucher by code and lock its row (serialises every movement on this voucher).

    The voucher comes with `provider_approved`, `provider_affiliated`, `invoice_claimed` and
    `organization_registration_number` for the checks, all from the one locking statement.
    """
    try:
        code = codes.normalize(code_text)
    except codes.VoucherCodeError as exc:
        if exc.code == "voucher_code_check_character":
            raise _Rejected(R.BAD_CHECK_CHARACTER, exc.message) from exc
        raise _Rejected(R.UNKNOWN_CODE, exc.message) from exc
    # Written in SQL, not as a queryset: compiling the same query with its Exists() subqueries
    # and select_related() (or even running it through .raw()) cost more CPU per claim than
    # PostgreSQL takes to run it, and every claim pays it (bench/claims.py, docs/benchmarks.md).
    sql = _lock_sql(connection.features.has_select_for_update_of)
    with connection.cursor() as cursor:
        cursor.execute(sql, [provider.pk, provider.pk, provider.pk, invoice_number, code])
        row = cursor.fetchone()
    if row is None:
        raise _Rejected(R.UNKNOWN_CODE, _("No voucher has the code %(code)s.") % {"code": code})
    voucher = instance_from_row(Voucher, row)
    (
        voucher.organization_registration_number,  # type: ignore[attr-defined]
        voucher.provider_approved,  # type: ignore[attr-defined]
        voucher.provider_affiliated,  # type: ignore[attr-defined]
        voucher.invoice_claimed,  # type: ignore[attr-defined]
    ) = row[-4:]
    return voucher


@cache
def _lock_sql(for_update_of: bool) -> str:
    """SELECT ... FOR UPDATE OF the voucher, with what _check needs about the provider.

    SQLite has no row locks (its transactions are IMMEDIATE: one writer at a time), so there
    the statement is a plain SELECT. Only table names from the models are formatted in; every
    value goes in as a parameter.
    """
    return """
        SELECT {columns}, o.registration_number,
            EXISTS (SELECT 1 FROM {approved} ap
                    WHERE ap.program_id = v.program_id AND ap.provider_id = %s
            ) AS provider_approved,
            EXISTS (SELECT 1 FROM {affiliation} pa
                    WHERE pa.provider_id = %s AND pa.organization_id = v.organization_id
            ) AS provider_affiliated,
            EXISTS (SELECT 1 FROM {claim} c
                    WHERE c.provider_id = %s AND c.invoice_number = %s
                    AND c.status IN ('{accepted}', '{reversed}')
            ) AS invoice_claimed
        FROM {voucher} v JOIN {organization} o ON o.id = v.organization_id
        WHERE v.code = %s
        {lock}
    """.format(  # noqa: S608
        lock="FOR UPDATE OF v" if for_update_of else "",
        columns=select_list(Voucher, "v"),
        approved=Program.approved_providers.through._meta.db_table,
        affiliation=ProviderAffiliation._meta.db_table,
        voucher=Voucher._meta.db_table,
        claim=Claim._meta.db_table,
        accepted=Claim.Status.ACCEPTED.value,
        reversed=Claim.Status.REVERSED.value,
        organization=Organization._meta.db_table,
    )


STATUS_REJECTIONS = {
    Voucher.Status.ISSUED: R.NOT_ACTIVE,
    Voucher.Status.SUSPENDED: R.SUSPENDED,
    Voucher.Status.EXPIRED: R.EXPIRED,
    Voucher.Status.EXHAUSTED: R.EXHAUSTED,
    Voucher.Status.REVOKED: R.REVOKED,
}


def _check(voucher: Voucher, provider: Provider, data: ClaimInput) -> Any:
    """Every rule a claim must pass, in the order a person would check them."""
    if voucher.status in STATUS_REJECTIONS:
        code = STATUS_REJECTIONS[Voucher.Status(voucher.status)]
        raise _Rejected(code, str(R(code).label))
    if voucher.valid_until <= timezone.now():
        raise _Rejected(
            R.EXPIRED,
            _("The voucher expired on %(date)s.")
            % {"date": timezone.localtime(voucher.valid_until).date()},
        )
    if not provider.is_active or not voucher.provider_approved:  # type: ignore[attr-defined]
        raise _Rejected(R.PROVIDER_NOT_APPROVED, str(R.PROVIDER_NOT_APPROVED.label))
    if (
        voucher.provider_affiliated  # type: ignore[attr-defined]
        or provider.registration_number == voucher.organization_registration_number  # type: ignore[attr-defined]
    ):
        raise _Rejected(R.PROVIDER_AFFILIATED, str(R.PROVIDER_AFFILIATED.label))
    if data.currency != voucher.currency:
        raise _Rejected(
            R.CURRENCY_MISMATCH,
            _("The invoice is in %(have)s; the voucher pays in %(want)s.")
            % {"have": data.currency, "want": voucher.currency},
        )
    # The rule the claim_invoice_once constraint enforces, checked first to record why.
    if voucher.invoice_claimed:  # type: ignore[attr-defined]
        raise _Rejected(
            R.DUPLICATE_INVOICE,
            _("Invoice %(number)s was already claimed.") % {"number": data.invoice_number},
        )
    valid_from = timezone.localtime(voucher.valid_from).date()
    valid_until = timezone.localtime(voucher.valid_until).date()
    if data.service_period_start < valid_from or data.service_period_end > valid_until:
        raise _Rejected(
            R.PERIOD_OUTSIDE_VALIDITY,
            _("The service period must fall between %(start)s and %(end)s.")
            % {"start": valid_from, "end": valid_until},
        )
    _check_lines(data)
    calc = calculate(
        lines=[Line(ln.chip_origin, ln.amount_cents) for ln in data.lines],
        rate_standard_bps=voucher.rate_standard_bps,
        rate_domestic_bps=voucher.rate_domestic_bps,
        remaining_cents=voucher.remaining_cents,
        clamp=voucher.over_cap_policy == "clamp",
    )
    if voucher.remaining_cents == 0:
        raise _Rejected(R.EXHAUSTED, str(R.EXHAUSTED.label))
    if not calc.fits and voucher.over_cap_policy != "clamp":
        money = partial(format_money, currency=voucher.currency)
        raise _Rejected(
            R.OVER_CAP,
            _("The subsidy of %(subsidy)s exceeds the %(left)s left on the voucher.")
            % {"subsidy": money(calc.full_subsidy_cents), "left": money(voucher.remaining_cents)},
        )
    return calc


def _check_lines(data: ClaimInput) -> None:
    if not data.lines:
        raise _Rejected(R.MALFORMED_LINES, _("A claim needs at least one usage line."))
    for number, line in enumerate(data.lines, start=1):
        if line.chip_origin not in ("domestic", "foreign"):
            raise _Rejected(
                R.MALFORMED_LINES,
                _("Line %(n)d: chip origin must be domestic or foreign.") % {"n": number},
            )
        if line.amount_cents <= 0 or line.gpu_hours <= 0:
            raise _Rejected(
                R.MALFORMED_LINES,
                _("Line %(n)d: hours and amount must be positive.") % {"n": number},
            )
    total = sum(line.amount_cents for line in data.lines)
    if total > data.invoice_total_cents:
        raise _Rejected(R.MALFORMED_LINES, _("The lines add up to more than the invoice total."))


def _record_rejection(
    actor: User,
    provider: Provider,
    data: ClaimInput,
    fingerprint: str,
    voucher: Voucher | None,
    code_text: str,
    rejection: _Rejected,
) -> Claim:
    claim = insert(
        Claim(
            provider=provider,
            provider_reference=data.provider_reference,
            request_sha256=fingerprint,
            voucher=voucher,
            voucher_code_submitted=code_text,
            invoice_number=data.invoice_number,
            invoice_total_cents=max(data.invoice_total_cents, 0),
            currency=data.currency,
            service_period_start=data.service_period_start,
            service_period_end=data.service_period_end,
            status=Claim.Status.REJECTED,
            rejection_code=rejection.code,
            rejection_message=rejection.message[:500],
            billed_to_startup_cents=max(data.invoice_total_cents, 0),
            calculation={
                "rejected": rejection.code,
                "lines": [
                    {
                        "position": i,
                        "chip_origin": ln.chip_origin,
                        "amount_cents": ln.amount_cents,
                        "gpu_hours": str(ln.gpu_hours),
                    }
                    for i, ln in enumerate(data.lines, start=1)
                ],
            },
            submitted_by=actor,
        )
    )
    audit_record(
        actor=actor,
        action=AuditAction.CLAIM_REJECTED,
        target=claim,
        data={"reason": rejection.code, "voucher": code_text, "invoice": data.invoice_number},
    )
    return claim


def _threshold_alert(voucher: Voucher, threshold: int) -> None:
    message = _("Voucher %(code)s has used %(pct)d%% of its %(cap)s.") % {
        "code": voucher.code,
        "pct": threshold,
        "cap": format_money(voucher.cap_cents, voucher.currency),
    }
    alert, created = Alert.objects.get_or_create(
        dedupe_key=f"threshold:{voucher.pk}:{threshold}",
        defaults={"kind": Alert.Kind.THRESHOLD, "message": message, "voucher": voucher},
    )
    if not created:
        return
    members = User.objects.filter(
        memberships__organization_id=voucher.organization_id, is_active=True
    )
    for member in members:
        notification_enqueue(
            kind="voucher_threshold",
            recipient=member,
            recipient_email=member.email,
            language=member.preferred_language,
            template="voucher_threshold",
            dedupe_key=f"voucher_threshold:{voucher.pk}:{threshold}:{member.pk}",
            context={
                "user_name": member.full_name,
                "code": voucher.code,
                "percent": threshold,
                "cap": format_money(voucher.cap_cents, voucher.currency),
                "left": format_money(voucher.remaining_cents, voucher.currency),
                "link": settings.SITE_URL + reverse("applicants:voucher_detail", args=[voucher.pk]),
            },
        )
