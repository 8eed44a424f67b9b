"""Payouts: finance groups a provider's accepted claims into one payment, a second finance
officer approves it (four eyes), finance marks it paid with the bank's reference, and the bank
file (CSV) is exported. Each service owns its transaction and writes its audit event in it."""

import csv
import hashlib
import io
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_record
from core.exceptions import ConflictError, DomainError, NotAllowedError
from core.money import cents_to_str, format_money
from core.validation import full_clean_or_raise
from disbursement.models import Claim, Payout, Provider
from disbursement.payout_policies import BIGINT_MAX, PayoutAction, payout_allows

BANK_REFERENCE_MIN = 3
BANK_REFERENCE_MAX = 100
EXPORTABLE = frozenset({Payout.Status.APPROVED, Payout.Status.PAID})
CSV_HEADER = [
    "payout_reference",
    "provider_legal_name",
    "provider_registration_number",
    "claim_id",
    "provider_reference",
    "invoice_number",
    "voucher_code",
    "amount",
    "currency",
]
TOTAL_LABEL = "TOTAL"


def _require(actor: User, action: PayoutAction, message: str) -> None:
    if not payout_allows(actor, action):
        raise NotAllowedError(message)


def _lock(payout_id: int) -> Payout:
    # Every transition locks the payout row: two clicks (or two officers) serialise here.
    payout = Payout.objects.select_for_update().filter(pk=payout_id).first()
    if payout is None:
        raise DomainError(_("No such payout."), code="not_found")
    return payout


def _claims_error(code: str, message: str) -> DomainError:
    return DomainError(message, code=code, fields={"claim_ids": [message]})


def _ids(values: Iterable[int]) -> str:
    return ", ".join(str(v) for v in sorted(values))


def _explain_missing(provider: Provider, missing: set[int]) -> DomainError:
    """Why some requested claims could not be taken: the first reason that applies."""
    found = {c.pk: c for c in Claim.objects.filter(pk__in=missing).select_related("payout")}
    unknown = missing - set(found)
    if unknown:
        return _claims_error(
            "claim_not_found", _("No claim has the id(s) %(ids)s.") % {"ids": _ids(unknown)}
        )
    foreign = {pk for pk, c in found.items() if c.provider_id != provider.pk}
    if foreign:
        return _claims_error(
            "claim_wrong_provider",
            _("Claim(s) %(ids)s belong to another provider, not %(provider)s.")
            % {"ids": _ids(foreign), "provider": provider.short_name},
        )
    not_accepted = {pk for pk, c in found.items() if c.status != Claim.Status.ACCEPTED}
    if not_accepted:
        return _claims_error(
            "claim_not_accepted",
            _("Only accepted claims are paid; claim(s) %(ids)s are rejected or reversed.")
            % {"ids": _ids(not_accepted)},
        )
    taken = sorted({c.payout.reference for c in found.values() if c.payout is not None})
    return _claims_error(
        "claim_in_payout",
        _("Claim(s) %(ids)s are already in payout %(refs)s.")
        % {"ids": _ids(missing), "refs": ", ".join(taken)},
    )


@transaction.atomic(durable=True)
def payout_create(*, actor: User, provider_id: int, claim_ids: list[int] | None = None) -> Payout:
    """Prepare a payout of a provider's accepted claims that no payout holds yet: all of them,
    or exactly `claim_ids` (each must belong to the provider, be accepted and unpaid).

    One currency per payout; an empty or zero payout is refused. The claims are locked, so a
    claim can never end up in two payouts however many officers prepare at once.
    """
    _require(actor, PayoutAction.CREATE, _("Only finance officers prepare payouts."))
    provider = Provider.objects.filter(pk=provider_id).first()
    if provider is None:
        message = _("No such provider.")
        raise DomainError(message, code="unknown_provider", fields={"provider": [message]})
    candidates = Claim.objects.filter(
        provider=provider, status=Claim.Status.ACCEPTED, payout__isnull=True
    )
    wanted: set[int] | None = None
    if claim_ids is not None:
        wanted = {int(pk) for pk in claim_ids}
        if not wanted:
            raise _claims_error("empty_payout", _("Choose at least one claim to pay."))
        impossible = {pk for pk in wanted if not 1 <= pk <= BIGINT_MAX}
        if impossible:
            raise _claims_error(
                "claim_not_found", _("No claim has the id(s) %(ids)s.") % {"ids": _ids(impossible)}
            )
        candidates = candidates.filter(pk__in=wanted)
    # Lock the claims (in id order, so two officers never deadlock): a claim taken by a
    # concurrent payout is re-checked after its commit and drops out of `payout IS NULL`.
    claims = list(candidates.select_for_update(of=("self",)).order_by("pk"))
    if wanted is not None and len(claims) != len(wanted):
        raise _explain_missing(provider, wanted - {c.pk for c in claims})
    if not claims:
        raise _claims_error(
            "empty_payout",
            _("%(provider)s has no accepted claims waiting for payment.")
            % {"provider": provider.short_name},
        )
    currencies = sorted({c.currency for c in claims})
    if len(currencies) > 1:
        raise _claims_error(
            "mixed_currencies",
            _(
                "These claims are in several currencies (%(currencies)s). A payout is paid in "
                "one currency: choose the claims of one currency."
            )
            % {"currencies": ", ".join(currencies)},
        )
    total = sum(c.subsidy_cents for c in claims)
    if total <= 0:
        raise _claims_error("nothing_to_pay", _("These claims carry no subsidy to pay."))
    now = timezone.now()
    payout = Payout(
        reference=f"tmp-{uuid.uuid4().hex[:30]}",  # replaced by one built from the id below
        provider=provider,
        currency=currencies[0],
        total_cents=total,
        claim_count=len(claims),
        created_by=actor,
    )
    full_clean_or_raise(payout)
    payout.save()
    payout.reference = f"PO-{now.year}-{payout.pk:06d}"
    payout.save(update_fields=["reference"])
    Claim.objects.filter(pk__in=[c.pk for c in claims]).update(payout=payout, updated_at=now)
    audit_record(
        actor=actor,
        action=AuditAction.PAYOUT_CREATED,
        target=payout,
        data={
            "provider": provider.pk,
            "currency": payout.currency,
            "total_cents": total,
            "claim_count": len(claims),
            "claims": [c.pk for c in claims],
        },
    )
    return payout


@transaction.atomic(durable=True)
def payout_approve(*, actor: User, payout_id: int) -> Payout:
    """Approve a prepared payout for payment. Whoever prepared it cannot approve it (four
    eyes; the database refuses it too). Approving again by the same approver is a no-op."""
    _require(actor, PayoutAction.APPROVE, _("Only finance officers approve payouts."))
    payout = _lock(payout_id)
    if payout.approved_by_id is not None and payout.approved_by_id == actor.pk:
        return payout
    if payout.created_by_id == actor.pk:
        raise NotAllowedError(
            _("You prepared this payout, so another finance officer must approve it (four eyes)."),
            code="four_eyes",
        )
    if Payout.Status.APPROVED not in Payout.TRANSITIONS[payout.status]:
        raise ConflictError(
            _("This payout is %(status)s; only prepared payouts can be approved.")
            % {"status": payout.get_status_display()},
            code="invalid_status",
        )
    previous = payout.status
    payout.status = Payout.Status.APPROVED
    payout.approved_by = actor
    payout.approved_at = timezone.now()
    full_clean_or_raise(payout)
    payout.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.PAYOUT_APPROVED,
        target=payout,
        data={
            "status": {"before": previous, "after": payout.status},
            "total_cents": payout.total_cents,
            "currency": payout.currency,
            "created_by": payout.created_by_id,
        },
    )
    return payout


def _bank_reference(value: str) -> str:
    text = (value or "").strip()
    if not BANK_REFERENCE_MIN <= len(text) <= BANK_REFERENCE_MAX or not text.isprintable():
        message = _(
            "Enter the bank's reference for the transfer (%(min)d to %(max)d characters, on one "
            "line)."
        ) % {"min": BANK_REFERENCE_MIN, "max": BANK_REFERENCE_MAX}
        raise DomainError(
            message, code="bank_reference_invalid", fields={"bank_reference": [message]}
        )
    return text


@transaction.atomic(durable=True)
def payout_mark_paid(*, actor: User, payout_id: int, bank_reference: str) -> Payout:
    """Record that the bank paid an approved payout, with the bank's reference.

    Repeating with the same bank reference is a no-op; a different one is a conflict (a payout
    is paid once)."""
    _require(actor, PayoutAction.MARK_PAID, _("Only finance officers mark payouts paid."))
    reference = _bank_reference(bank_reference)
    payout = _lock(payout_id)
    if payout.status == Payout.Status.PAID:
        if payout.bank_reference == reference:
            return payout
        raise ConflictError(
            _("This payout was already paid with the bank reference %(ref)s.")
            % {"ref": payout.bank_reference},
            code="already_paid",
        )
    if Payout.Status.PAID not in Payout.TRANSITIONS[payout.status]:
        raise ConflictError(
            _("This payout is %(status)s; it must be approved before it is paid.")
            % {"status": payout.get_status_display()},
            code="invalid_status",
        )
    previous = payout.status
    payout.status = Payout.Status.PAID
    payout.paid_by = actor
    payout.paid_at = timezone.now()
    payout.bank_reference = reference
    full_clean_or_raise(payout)
    payout.save(update_fields=["status", "paid_by", "paid_at", "bank_reference", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.PAYOUT_PAID,
        target=payout,
        data={
            "status": {"before": previous, "after": payout.status},
            "bank_reference": reference,
            "total_cents": payout.total_cents,
            "currency": payout.currency,
        },
    )
    return payout


def _cell(value: str) -> str:
    """Text a spreadsheet must not run as a formula (invoice numbers come from providers)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@transaction.atomic
def payout_export_csv(*, actor: User, payout_id: int) -> tuple[str, bytes]:
    """The bank file of an approved or paid payout: one line per claim and a total line, in
    UTF-8 with a BOM (Excel then reads Chinese names). Every export is audited with the file's
    SHA-256."""
    if not payout_allows(actor, PayoutAction.EXPORT):
        raise NotAllowedError(_("Only finance officers, auditors and administrators export."))
    payout = Payout.objects.select_related("provider").filter(pk=payout_id).first()
    if payout is None:
        raise DomainError(_("No such payout."), code="not_found")
    if payout.status not in EXPORTABLE:
        raise ConflictError(
            _("This payout is %(status)s; only approved or paid payouts go to the bank.")
            % {"status": payout.get_status_display()},
            code="not_approved",
        )
    provider = payout.provider
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    total = count = 0
    head = [payout.reference, _cell(provider.legal_name), _cell(provider.registration_number)]
    for claim in payout_claims(payout=payout).iterator(chunk_size=1000):
        code = claim.voucher.code if claim.voucher is not None else claim.voucher_code_submitted
        writer.writerow(
            [
                *head,
                claim.pk,
                _cell(claim.provider_reference),
                _cell(claim.invoice_number),
                _cell(code),
                cents_to_str(claim.subsidy_cents),
                claim.currency,
            ]
        )
        total += claim.subsidy_cents
        count += 1
    if total != payout.total_cents or count != payout.claim_count:
        # Claims in a payout cannot be reversed or moved, so this means tampering: no bank file.
        raise ConflictError(
            _("The payout's claims do not add up to its total; the file was not produced."),
            code="payout_inconsistent",
        )
    writer.writerow([*head, TOTAL_LABEL, "", "", "", cents_to_str(total), payout.currency])
    content = buffer.getvalue().encode("utf-8-sig")
    audit_record(
        actor=actor,
        action=AuditAction.PAYOUT_EXPORTED,
        target=payout,
        data={
            "status": payout.status,
            "claim_count": count,
            "total_cents": total,
            "sha256": hashlib.sha256(content).hexdigest(),
        },
    )
    return f"{payout.reference}.csv", content


# Reads used by the pages and the API.


def payout_claims(*, payout: Payout) -> QuerySet[Claim]:
    return Claim.objects.filter(payout=payout).select_related("voucher").order_by("pk")


def unpaid_claims(*, provider_id: int, currency: str | None = None) -> QuerySet[Claim]:
    """A provider's accepted claims that no payout holds yet, oldest first."""
    qs = Claim.objects.filter(
        provider_id=provider_id, status=Claim.Status.ACCEPTED, payout__isnull=True
    )
    if currency:
        qs = qs.filter(currency=currency)
    return qs.select_related("voucher").order_by("created_at", "pk")


@dataclass(frozen=True)
class UnpaidSummary:
    provider_id: int
    short_name: str
    legal_name: str
    currency: str
    count: int
    total_cents: int

    @property
    def total_display(self) -> str:
        return format_money(self.total_cents, self.currency)


def unpaid_summary() -> list[UnpaidSummary]:
    """Per provider and currency: how many accepted claims wait for a payout, and their sum."""
    rows = (
        Claim.objects.filter(status=Claim.Status.ACCEPTED, payout__isnull=True)
        .values("provider_id", "provider__short_name", "provider__legal_name", "currency")
        .annotate(count=Count("id"), total=Sum("subsidy_cents"))
        .order_by("provider__short_name", "provider_id", "currency")
    )
    return [
        UnpaidSummary(
            provider_id=r["provider_id"],
            short_name=r["provider__short_name"],
            legal_name=r["provider__legal_name"],
            currency=r["currency"],
            count=r["count"],
            total_cents=r["total"] or 0,
        )
        for r in rows
    ]
