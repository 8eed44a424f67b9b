"""Claims against vouchers: the subsidy per line, the cap that is never exceeded, idempotency,
every rejection reason, and the append-only ledger."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.models import AuditAction, AuditEvent
from core.exceptions import ConflictError
from disbursement.models import Alert, Claim, LedgerEntry, ProviderAffiliation
from disbursement.models import RejectionCode as R
from disbursement.services.claims import ClaimInput, LineInput, claim_submit
from disbursement.subsidy import Line, calculate, line_subsidy
from notifications.models import Notification
from tests.concurrency import run_concurrently, run_many
from tests.disbursement.conftest import claim_input
from tests.factories import ProviderFactory
from vouchers import codes
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db


def _submit(staff, voucher_or_input, **kw):
    data = (
        voucher_or_input
        if isinstance(voucher_or_input, ClaimInput)
        else claim_input(voucher_or_input, **kw)
    )
    provider = staff.provider_staff.provider
    return claim_submit(actor=staff, provider=provider, data=data)


def _ledger_sum(voucher) -> int:
    return voucher.ledger.aggregate(s=Sum("spent_delta_cents"))["s"] or 0


def test_an_accepted_claim_charges_the_voucher_line_by_line(provider_staff, active_voucher):
    outcome = _submit(provider_staff, active_voucher)
    claim = outcome.claim
    assert not outcome.replayed and claim.status == Claim.Status.ACCEPTED
    # 10,000.00 domestic at 50% + 20,000.00 foreign at 30%
    assert claim.subsidy_cents == 5_000_00 + 6_000_00
    assert claim.billed_to_startup_cents == 30_000_00 - 11_000_00
    assert [line.subsidy_cents for line in claim.lines.order_by("position")] == [5_000_00, 6_000_00]
    assert claim.calculation["rates_bps"] == {"foreign (standard)": 3000, "domestic": 5000}
    active_voucher.refresh_from_db()
    assert active_voucher.spent_cents == 11_000_00 == _ledger_sum(active_voucher)
    entry = LedgerEntry.objects.get(claim=claim)
    assert entry.kind == "charge" and entry.spent_after_cents == 11_000_00
    assert AuditEvent.objects.filter(
        action=AuditAction.CLAIM_ACCEPTED, target_id=str(active_voucher.pk)
    ).exists()


def test_same_reference_and_body_replays_different_body_conflicts(provider_staff, active_voucher):
    data = claim_input(active_voucher, reference="R-1", invoice="I-1")
    first = _submit(provider_staff, data)
    again = _submit(provider_staff, data)
    assert again.replayed and again.claim.pk == first.claim.pk
    different = claim_input(active_voucher, reference="R-1", invoice="I-2")
    with pytest.raises(ConflictError) as exc:
        _submit(provider_staff, different)
    assert exc.value.code == "idempotency_conflict"
    active_voucher.refresh_from_db()
    assert active_voucher.spent_cents == first.claim.subsidy_cents


def test_a_rejected_claim_is_also_replayed(provider_staff, active_voucher):
    data = claim_input(active_voucher, currency="EUR", reference="R-9")
    first = _submit(provider_staff, data)
    again = _submit(provider_staff, data)
    assert first.claim.status == "rejected" and again.claim.pk == first.claim.pk and again.replayed


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("unknown", R.UNKNOWN_CODE),
        ("check", R.BAD_CHECK_CHARACTER),
        ("issued", R.NOT_ACTIVE),
        ("expired_status", R.EXPIRED),
        ("expired_date", R.EXPIRED),
        ("suspended", R.SUSPENDED),
        ("exhausted", R.EXHAUSTED),
        ("revoked", R.REVOKED),
        ("not_approved", R.PROVIDER_NOT_APPROVED),
        ("affiliated", R.PROVIDER_AFFILIATED),
        ("same_company", R.PROVIDER_AFFILIATED),
        ("currency", R.CURRENCY_MISMATCH),
        ("period", R.PERIOD_OUTSIDE_VALIDITY),
        ("lines_over_total", R.MALFORMED_LINES),
        ("zero_hours", R.MALFORMED_LINES),
        ("chip", R.MALFORMED_LINES),
    ],
)
def test_every_rejection_reason(provider_staff, active_voucher, provider, setup, code):
    voucher = active_voucher
    kw = {}
    if setup == "unknown":
        kw["code"] = codes.generate()
    elif setup == "check":
        body = voucher.code.removeprefix("CV-").replace("-", "")
        kw["code"] = body[:-1] + next(c for c in codes.ALPHABET if c != body[-1])
    elif setup in ("issued", "expired_status", "suspended", "exhausted", "revoked"):
        status = {"expired_status": "expired"}.get(setup, setup)
        Voucher.objects.filter(pk=voucher.pk).update(status=status)
    elif setup == "expired_date":
        Voucher.objects.filter(pk=voucher.pk).update(
            valid_from=timezone.now() - timedelta(days=400),
            valid_until=timezone.now() - timedelta(seconds=1),
        )
    elif setup == "not_approved":
        voucher.program.approved_providers.remove(provider)
    elif setup == "affiliated":
        ProviderAffiliation.objects.create(
            provider=provider, organization=voucher.organization, recorded_by=provider_staff
        )
    elif setup == "same_company":
        provider.registration_number = voucher.organization.registration_number
        provider.save()
    elif setup == "currency":
        kw["currency"] = "EUR"
    elif setup == "period":
        kw["start"] = timezone.localdate() - timedelta(days=30)
    elif setup == "lines_over_total":
        kw["total"] = 100
    data = claim_input(voucher, **kw)
    if setup == "zero_hours":
        data = ClaimInput(
            **{**data.__dict__, "lines": [LineInput("domestic", Decimal("0"), 100_00)]}
        )
    if setup == "chip":
        data = ClaimInput(
            **{**data.__dict__, "lines": [LineInput("quantum", Decimal("1"), 100_00)]}
        )
    outcome = _submit(provider_staff, data)
    assert outcome.claim.status == "rejected" and outcome.claim.rejection_code == code, (
        outcome.claim.rejection_message
    )
    assert outcome.claim.rejection_message
    voucher.refresh_from_db()
    assert voucher.spent_cents == 0 and not LedgerEntry.objects.filter(kind="charge").exists()
    assert AuditEvent.objects.filter(action=AuditAction.CLAIM_REJECTED).count() == 1


def test_duplicate_invoice_across_programs_is_refused(provider_staff, active_voucher):
    _submit(provider_staff, active_voucher, invoice="INV-SAME")
    second = _submit(provider_staff, active_voucher, invoice="INV-SAME")
    assert second.claim.rejection_code == R.DUPLICATE_INVOICE


def test_reject_policy_refuses_a_claim_that_does_not_fit(provider_staff, active_voucher):
    Voucher.objects.filter(pk=active_voucher.pk).update(over_cap_policy="reject")
    outcome = _submit(provider_staff, active_voucher, lines=[("domestic", 400_000_00)])
    assert outcome.claim.rejection_code == R.OVER_CAP
    assert "150,000.00" in outcome.claim.rejection_message


def test_clamp_pays_what_is_left_and_bills_the_rest(provider_staff, active_voucher):
    _submit(provider_staff, active_voucher, lines=[("domestic", 200_000_00)])  # 100,000.00 subsidy
    outcome = _submit(
        provider_staff, active_voucher, lines=[("domestic", 80_000_00), ("foreign", 100_000_00)]
    )
    claim = outcome.claim
    assert claim.subsidy_cents == 50_000_00  # 40,000 + 30,000 wanted, 50,000 left
    assert claim.calculation["clamped_cents"] == 20_000_00
    assert [ln.subsidy_cents for ln in claim.lines.order_by("position")] == [40_000_00, 10_000_00]
    assert claim.billed_to_startup_cents == 180_000_00 - 50_000_00
    active_voucher.refresh_from_db()
    assert active_voucher.spent_cents == active_voucher.cap_cents == 150_000_00
    assert active_voucher.status == Voucher.Status.EXHAUSTED
    assert _submit(provider_staff, active_voucher).claim.rejection_code == R.EXHAUSTED


def test_thresholds_alert_once_each(provider_staff, active_voucher):
    _submit(provider_staff, active_voucher, lines=[("domestic", 160_000_00)])  # 80,000 = 53%
    _submit(provider_staff, active_voucher, lines=[("domestic", 90_000_00)])  # 125,000 = 83%
    _submit(provider_staff, active_voucher, lines=[("domestic", 100_000_00)])  # clamp to 150,000
    kinds = sorted(a.dedupe_key.rsplit(":", 1)[1] for a in Alert.objects.filter(kind="threshold"))
    assert kinds == ["100", "50", "80", "95"]
    assert Notification.objects.filter(kind="voucher_threshold").count() == 4


def test_the_ledger_is_append_only_in_the_database(provider_staff, active_voucher):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL")
    _submit(provider_staff, active_voucher)
    entry = LedgerEntry.objects.filter(kind="charge").get()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(
            "UPDATE disbursement_ledgerentry SET spent_delta_cents = 1 WHERE id = %s", [entry.pk]
        )
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute("DELETE FROM disbursement_ledgerentry WHERE id = %s", [entry.pk])


def test_the_database_refuses_spending_past_the_cap(active_voucher):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        Voucher.objects.filter(pk=active_voucher.pk).update(
            spent_cents=active_voucher.cap_cents + 1
        )


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("policy", ["clamp", "reject"])
def test_200_concurrent_claims_never_pass_the_cap(policy, provider_staff, active_voucher):
    """200 claims of 1,000.00 subsidy each (200,000.00 in all) on a 150,000.00 voucher, from 20
    real threads with their own connections: the voucher ends exactly at (clamp) or below
    (reject) its cap, and its spent is the sum of its ledger."""
    Voucher.objects.filter(pk=active_voucher.pk).update(over_cap_policy=policy)
    inputs = iter([claim_input(active_voucher, lines=[("domestic", 2_000_00)]) for _ in range(200)])
    provider = provider_staff.provider_staff.provider
    lock = threading.Lock()

    def one():
        with lock:
            data = next(inputs)
        return claim_submit(actor=provider_staff, provider=provider, data=data)

    results = run_many(one, calls=200, threads=20)
    assert len(results) == 200
    assert not [r for r in results if isinstance(r, BaseException)]
    assert books_problems(active_voucher.pk) == []
    active_voucher.refresh_from_db()
    assert active_voucher.spent_cents == 150_000_00  # 150 fit exactly in both policies
    accepted = Claim.objects.filter(status="accepted")
    assert accepted.count() == 150 and accepted.aggregate(s=Sum("subsidy_cents"))["s"] == 150_000_00
    assert Claim.objects.filter(status="rejected").count() == 50


def books_problems(voucher_id: int) -> list[str]:
    """The race tests' checker (plan I1, I2): what is wrong with one voucher's books."""
    voucher = Voucher.objects.get(pk=voucher_id)
    ledger = voucher.ledger.aggregate(s=Sum("spent_delta_cents"))["s"] or 0
    problems = []
    if not 0 <= voucher.spent_cents <= voucher.cap_cents:
        problems.append(f"spent {voucher.spent_cents} outside 0..{voucher.cap_cents}")
    if ledger != voucher.spent_cents:
        problems.append(f"spent {voucher.spent_cents} but the ledger says {ledger}")
    if ledger > voucher.cap_cents:
        problems.append(f"the ledger charged {ledger - voucher.cap_cents} over the cap")
    return problems


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_race_checker_catches_a_naive_read_then_write_charge(active_voucher):
    """The canary (plan M3): the same race, through a charge that reads, checks in Python and
    writes absolute values without a lock, must be caught by the checker the real tests use;
    otherwise their passing would prove nothing."""
    import time

    counter = iter(range(10**6))
    lock = threading.Lock()

    def naive_charge() -> None:
        amount = 1_000_00
        with transaction.atomic():
            voucher = Voucher.objects.get(pk=active_voucher.pk)  # no FOR UPDATE
            if voucher.spent_cents + amount > voucher.cap_cents:
                return
            time.sleep(0.001)  # the application's own work between the read and the write
            with lock:
                n = next(counter)
            LedgerEntry.objects.create(
                voucher=voucher,
                program_id=voucher.program_id,
                kind="charge",
                spent_delta_cents=amount,
                spent_after_cents=voucher.spent_cents + amount,
                cap_after_cents=voucher.cap_cents,
                idempotency_key=f"naive:{n}",
            )
            Voucher.objects.filter(pk=voucher.pk).update(spent_cents=voucher.spent_cents + amount)

    assert books_problems(active_voucher.pk) == []
    results = run_many(naive_charge, calls=200, threads=20)
    assert not [r for r in results if isinstance(r, BaseException)], results[:3]
    problems = books_problems(active_voucher.pk)
    print(f"\nM3 canary: {problems}")
    assert any("the ledger says" in p for p in problems), problems
    assert any("over the cap" in p for p in problems), problems


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_20_parallel_submissions_of_one_key_make_one_claim(provider_staff, active_voucher):
    data = claim_input(active_voucher, reference="SAME-KEY")
    provider = provider_staff.provider_staff.provider
    results = run_concurrently(
        lambda: claim_submit(actor=provider_staff, provider=provider, data=data), threads=20
    )
    assert not [r for r in results if isinstance(r, BaseException)]
    assert Claim.objects.count() == 1 and LedgerEntry.objects.filter(kind="charge").count() == 1
    assert sum(1 for r in results if not r.replayed) == 1
    active_voucher.refresh_from_db()
    assert active_voucher.spent_cents == 11_000_00


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_invoice_under_two_references_at_once_is_charged_once(
    provider_staff, active_voucher
):
    provider = provider_staff.provider_staff.provider
    inputs = [claim_input(active_voucher, invoice="INV-RACE") for _ in range(10)]
    lock = threading.Lock()

    def one():
        with lock:
            data = inputs.pop()
        return claim_submit(actor=provider_staff, provider=provider, data=data)

    run_concurrently(one, threads=10)
    assert Claim.objects.filter(status="accepted").count() == 1
    assert Claim.objects.filter(rejection_code=R.DUPLICATE_INVOICE).count() == 9


# --- the arithmetic ---------------------------------------------------------------------------

lines_strategy = st.lists(
    st.tuples(st.sampled_from(["domestic", "foreign"]), st.integers(min_value=1, max_value=10**11)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(
    lines=lines_strategy,
    standard=st.integers(0, 10_000),
    domestic=st.integers(0, 10_000),
    remaining=st.integers(0, 10**12),
    clamp=st.booleans(),
)
def test_subsidy_properties(lines, standard, domestic, remaining, clamp):
    calc = calculate(
        lines=[Line(c, a) for c, a in lines],
        rate_standard_bps=standard,
        rate_domestic_bps=domestic,
        remaining_cents=remaining,
        clamp=clamp,
    )
    rates = {"domestic": domestic, "foreign": standard}
    for result, (chip, amount) in zip(calc.lines, lines, strict=True):
        assert result.rate_bps == rates[chip]  # the tier is applied per line
        assert (
            result.full_subsidy_cents == amount * rates[chip] // 10_000
        )  # one rounding rule: down
        assert 0 <= result.subsidy_cents <= result.full_subsidy_cents <= amount
    assert 0 <= calc.subsidy_cents <= remaining  # never negative, never above what is left
    assert calc.subsidy_cents == sum(r.subsidy_cents for r in calc.lines)
    assert calc.subsidy_cents + calc.clamped_cents == calc.full_subsidy_cents
    if calc.fits:
        assert calc.subsidy_cents == calc.full_subsidy_cents
    elif clamp:
        assert calc.subsidy_cents == remaining
    else:
        assert calc.subsidy_cents == 0


def test_rounding_is_down_to_the_cent():
    assert line_subsidy(333, 5000) == 166  # 1.665 -> 1.66
    assert line_subsidy(1, 9999) == 0
    with pytest.raises(ValueError):
        line_subsidy(-1, 100)
    assert ProviderFactory is not None
