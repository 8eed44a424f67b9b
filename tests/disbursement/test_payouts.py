"""Payouts: grouping accepted claims, four eyes, paid with a bank reference, the bank file,
the API's permission matrix and the finance pages."""

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction, AuditEvent
from core.exceptions import ConflictError, DomainError, NotAllowedError
from disbursement.models import Claim, Payout, ProviderStaff
from disbursement.services.payouts import (
    payout_approve,
    payout_create,
    payout_export_csv,
    payout_mark_paid,
)
from tests.concurrency import run_concurrently
from tests.conftest import api_as
from tests.factories import ApplicationFactory, ProgramFactory, ProviderFactory, UserFactory
from vouchers import codes
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db

R = User.Role
_numbers = iter(range(1, 10**9))


# --- fixtures: accepted claims made directly, without the claim service ------------------------


def make_voucher(provider: Any, *, currency: str = "CNY") -> Voucher:
    program = ProgramFactory(providers=[provider], currency=currency)
    application = ApplicationFactory(program=program)
    now = timezone.now()
    return Voucher.objects.create(
        code=codes.generate(),
        application=application,
        program=program,
        organization=application.organization,
        status=Voucher.Status.ACTIVE,
        currency=currency,
        cap_cents=150_000_00,
        rate_standard_bps=3000,
        rate_domestic_bps=5000,
        over_cap_policy="clamp",
        terms={},
        valid_from=now,
        valid_until=now + timedelta(days=365),
        issued_by=UserFactory(role=R.APPROVER),
    )


def make_claims(
    provider: Any,
    voucher: Voucher,
    subsidies: list[int],
    *,
    status: str = Claim.Status.ACCEPTED,
    currency: str | None = None,
    invoice: str | None = None,
) -> list[Claim]:
    submitter = UserFactory(role=R.PROVIDER)
    today = timezone.localdate()
    rows = []
    for subsidy in subsidies:
        n = next(_numbers)
        rows.append(
            Claim(
                provider=provider,
                provider_reference=f"REF-{n}",
                request_sha256="0" * 64,
                voucher=voucher,
                voucher_code_submitted=voucher.code,
                invoice_number=invoice or f"INV-{n}",
                invoice_total_cents=subsidy * 2,
                currency=currency or voucher.currency,
                service_period_start=today,
                service_period_end=today + timedelta(days=1),
                status=status,
                rejection_code="unknown_voucher" if status == Claim.Status.REJECTED else "",
                eligible_cents=subsidy * 2,
                subsidy_cents=subsidy,
                billed_to_startup_cents=subsidy,
                submitted_by=submitter,
            )
        )
    return Claim.objects.bulk_create(rows)


@pytest.fixture
def finance2(db: Any) -> User:
    return UserFactory(role=R.FINANCE)


@pytest.fixture
def admin_user(db: Any) -> User:
    return UserFactory(role=R.ADMIN)


@pytest.fixture
def voucher(provider: Any) -> Voucher:
    return make_voucher(provider)


@pytest.fixture
def claims(provider: Any, voucher: Voucher) -> list[Claim]:
    return make_claims(provider, voucher, [1_000_00, 2_500_50, 1])


@pytest.fixture
def draft_payout(finance: User, provider: Any, claims: list[Claim]) -> Payout:
    return payout_create(actor=finance, provider_id=provider.pk)


@pytest.fixture
def approved_payout(draft_payout: Payout, finance2: User) -> Payout:
    return payout_approve(actor=finance2, payout_id=draft_payout.pk)


@pytest.fixture
def paid_payout(approved_payout: Payout, finance: User) -> Payout:
    return payout_mark_paid(actor=finance, payout_id=approved_payout.pk, bank_reference="BOC-1")


def staff_of(provider: Any) -> User:
    user = UserFactory(role=R.PROVIDER)
    ProviderStaff.objects.create(provider=provider, user=user)
    return user


def events(action: str, payout: Payout) -> int:
    return AuditEvent.objects.filter(action=action, target_id=str(payout.pk)).count()


# --- payout_create ----------------------------------------------------------------------------


def test_payout_create_groups_every_unpaid_accepted_claim_of_the_provider(
    finance, provider, voucher, claims
):
    make_claims(provider, voucher, [500_00], status=Claim.Status.REJECTED)
    make_claims(provider, voucher, [600_00], status=Claim.Status.REVERSED)
    other = ProviderFactory()
    make_claims(other, make_voucher(other), [700_00])

    payout = payout_create(actor=finance, provider_id=provider.pk)

    assert re.fullmatch(rf"PO-{timezone.now().year}-\d{{6}}", payout.reference)
    assert payout.status == Payout.Status.DRAFT and payout.created_by == finance
    assert payout.total_cents == 1_000_00 + 2_500_50 + 1 and payout.claim_count == 3
    assert payout.currency == "CNY"
    assert set(payout.claims.values_list("pk", flat=True)) == {c.pk for c in claims}
    assert Claim.objects.filter(payout__isnull=False).count() == 3
    event = AuditEvent.objects.get(action=AuditAction.PAYOUT_CREATED, target_id=str(payout.pk))
    assert event.data["claims"] == sorted(c.pk for c in claims)
    assert event.data["total_cents"] == payout.total_cents


def test_payout_create_with_chosen_claims_takes_only_those(finance, provider, claims):
    payout = payout_create(
        actor=finance, provider_id=provider.pk, claim_ids=[claims[0].pk, claims[2].pk]
    )
    assert payout.claim_count == 2 and payout.total_cents == 1_000_00 + 1
    claims[1].refresh_from_db()
    assert claims[1].payout_id is None
    # The rest can go in the next payout; a claim is never in two.
    second = payout_create(actor=finance, provider_id=provider.pk)
    assert list(second.claims.values_list("pk", flat=True)) == [claims[1].pk]


@pytest.mark.parametrize(
    "case, code",
    [
        ("unknown", "claim_not_found"),
        ("huge_id", "claim_not_found"),
        ("other_provider", "claim_wrong_provider"),
        ("rejected", "claim_not_accepted"),
        ("reversed", "claim_not_accepted"),
        ("in_payout", "claim_in_payout"),
    ],
)
def test_payout_create_refuses_a_claim_it_cannot_pay(case, code, finance, provider, voucher):
    good = make_claims(provider, voucher, [100_00])[0]
    if case == "unknown":
        bad_id = Claim.objects.order_by("-pk").first().pk + 1000
    elif case == "huge_id":
        bad_id = 2**63
    elif case == "other_provider":
        other = ProviderFactory()
        bad_id = make_claims(other, make_voucher(other), [100_00])[0].pk
    elif case in ("rejected", "reversed"):
        bad_id = make_claims(provider, voucher, [100_00], status=case)[0].pk
    else:
        bad_id = make_claims(provider, voucher, [100_00])[0].pk
        payout_create(actor=finance, provider_id=provider.pk, claim_ids=[bad_id])
    with pytest.raises(DomainError) as exc:
        payout_create(actor=finance, provider_id=provider.pk, claim_ids=[good.pk, bad_id])
    assert exc.value.code == code and "claim_ids" in exc.value.fields
    assert str(bad_id) in exc.value.message
    good.refresh_from_db()
    assert good.payout_id is None  # nothing half-done


def test_payout_create_refuses_mixed_currencies(finance, provider, voucher):
    make_claims(provider, voucher, [100_00])
    make_claims(provider, make_voucher(provider, currency="USD"), [200_00])
    with pytest.raises(DomainError) as exc:
        payout_create(actor=finance, provider_id=provider.pk)
    assert exc.value.code == "mixed_currencies"
    assert "CNY, USD" in exc.value.message
    assert not Payout.objects.exists()
    # Choosing the claims of one currency works.
    usd = Claim.objects.filter(currency="USD").values_list("pk", flat=True)
    payout = payout_create(actor=finance, provider_id=provider.pk, claim_ids=list(usd))
    assert payout.currency == "USD" and payout.total_cents == 200_00


def test_payout_create_refuses_an_empty_payout(finance, provider, voucher):
    with pytest.raises(DomainError) as exc:
        payout_create(actor=finance, provider_id=provider.pk)
    assert exc.value.code == "empty_payout"
    make_claims(provider, voucher, [100_00])
    with pytest.raises(DomainError) as exc:
        payout_create(actor=finance, provider_id=provider.pk, claim_ids=[])
    assert exc.value.code == "empty_payout"
    assert not Payout.objects.exists()


def test_payout_create_refuses_claims_with_nothing_to_pay(finance, provider, voucher):
    make_claims(provider, voucher, [0, 0])
    with pytest.raises(DomainError) as exc:
        payout_create(actor=finance, provider_id=provider.pk)
    assert exc.value.code == "nothing_to_pay"


def test_payout_create_refuses_an_unknown_provider(finance):
    with pytest.raises(DomainError) as exc:
        payout_create(actor=finance, provider_id=987654)
    assert exc.value.code == "unknown_provider"


@pytest.mark.parametrize(
    "role", [R.APPLICANT, R.REVIEWER, R.APPROVER, R.PROVIDER, R.AUDITOR, R.ADMIN]
)
def test_only_finance_prepares_a_payout(role, provider, claims):
    with pytest.raises(NotAllowedError):
        payout_create(actor=UserFactory(role=role), provider_id=provider.pk)
    assert not Payout.objects.exists()


# --- payout_approve: four eyes ----------------------------------------------------------------


def test_payout_approve_by_a_second_finance_officer(draft_payout, finance2):
    payout = payout_approve(actor=finance2, payout_id=draft_payout.pk)
    assert payout.status == Payout.Status.APPROVED
    assert payout.approved_by == finance2 and payout.approved_at is not None
    assert events(AuditAction.PAYOUT_APPROVED, payout) == 1


def test_payout_approve_refuses_whoever_prepared_it(draft_payout, finance):
    with pytest.raises(NotAllowedError) as exc:
        payout_approve(actor=finance, payout_id=draft_payout.pk)
    assert exc.value.code == "four_eyes"
    draft_payout.refresh_from_db()
    assert draft_payout.status == Payout.Status.DRAFT and draft_payout.approved_by is None


def test_the_database_refuses_a_self_approval_too(draft_payout, finance):
    with pytest.raises(IntegrityError), transaction.atomic():
        Payout.objects.filter(pk=draft_payout.pk).update(
            status=Payout.Status.APPROVED, approved_by=finance, approved_at=timezone.now()
        )


def test_payout_approve_repeated_by_the_same_approver_is_a_no_op(approved_payout, finance2):
    again = payout_approve(actor=finance2, payout_id=approved_payout.pk)
    assert (
        again.status == Payout.Status.APPROVED and again.approved_at == approved_payout.approved_at
    )
    assert events(AuditAction.PAYOUT_APPROVED, approved_payout) == 1


def test_payout_approve_by_another_officer_once_approved_is_a_conflict(approved_payout):
    with pytest.raises(ConflictError) as exc:
        payout_approve(actor=UserFactory(role=R.FINANCE), payout_id=approved_payout.pk)
    assert exc.value.code == "invalid_status"


def test_a_paid_payout_cannot_be_approved_again(paid_payout):
    with pytest.raises(ConflictError):
        payout_approve(actor=UserFactory(role=R.FINANCE), payout_id=paid_payout.pk)


@pytest.mark.parametrize("role", [R.APPROVER, R.AUDITOR, R.ADMIN, R.PROVIDER, R.APPLICANT])
def test_only_finance_approves(role, draft_payout):
    with pytest.raises(NotAllowedError):
        payout_approve(actor=UserFactory(role=role), payout_id=draft_payout.pk)


# --- payout_mark_paid -------------------------------------------------------------------------


def test_payout_mark_paid_records_the_trimmed_bank_reference(approved_payout, finance):
    payout = payout_mark_paid(
        actor=finance, payout_id=approved_payout.pk, bank_reference="  BOC 2026/0001  "
    )
    assert payout.status == Payout.Status.PAID and payout.bank_reference == "BOC 2026/0001"
    assert payout.paid_by == finance and payout.paid_at is not None
    assert events(AuditAction.PAYOUT_PAID, payout) == 1


def test_a_draft_payout_cannot_be_paid(draft_payout, finance2):
    with pytest.raises(ConflictError) as exc:
        payout_mark_paid(actor=finance2, payout_id=draft_payout.pk, bank_reference="BOC-1")
    assert exc.value.code == "invalid_status"
    draft_payout.refresh_from_db()
    assert draft_payout.status == Payout.Status.DRAFT


def test_payout_mark_paid_again_same_reference_is_a_no_op_other_is_a_conflict(
    paid_payout, finance2
):
    again = payout_mark_paid(actor=finance2, payout_id=paid_payout.pk, bank_reference=" BOC-1 ")
    assert again.paid_by_id == paid_payout.paid_by_id and again.paid_at == paid_payout.paid_at
    with pytest.raises(ConflictError) as exc:
        payout_mark_paid(actor=finance2, payout_id=paid_payout.pk, bank_reference="BOC-2")
    assert exc.value.code == "already_paid" and "BOC-1" in exc.value.message
    assert events(AuditAction.PAYOUT_PAID, paid_payout) == 1


@pytest.mark.parametrize("reference", ["", "   ", "ab", " ab ", "x" * 101, "BOC\n1", "BOC\t1"])
def test_payout_mark_paid_needs_a_bank_reference(reference, approved_payout, finance):
    with pytest.raises(DomainError) as exc:
        payout_mark_paid(actor=finance, payout_id=approved_payout.pk, bank_reference=reference)
    assert exc.value.code == "bank_reference_invalid" and "bank_reference" in exc.value.fields
    approved_payout.refresh_from_db()
    assert approved_payout.status == Payout.Status.APPROVED


def test_payout_mark_paid_accepts_the_length_limits(approved_payout, finance):
    payout = payout_mark_paid(actor=finance, payout_id=approved_payout.pk, bank_reference="x" * 100)
    assert len(payout.bank_reference) == 100


def test_the_database_refuses_paid_without_bank_reference(approved_payout):
    with pytest.raises(IntegrityError), transaction.atomic():
        Payout.objects.filter(pk=approved_payout.pk).update(status=Payout.Status.PAID)


@pytest.mark.parametrize("role", [R.APPROVER, R.AUDITOR, R.ADMIN, R.PROVIDER])
def test_only_finance_marks_paid(role, approved_payout):
    with pytest.raises(NotAllowedError):
        payout_mark_paid(
            actor=UserFactory(role=role), payout_id=approved_payout.pk, bank_reference="BOC-1"
        )


def test_the_transition_table_is_what_the_services_follow():
    S = Payout.Status
    assert Payout.TRANSITIONS == {S.DRAFT: {S.APPROVED}, S.APPROVED: {S.PAID}, S.PAID: set()}


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_officers_preparing_at_once_never_put_a_claim_in_two_payouts(provider, voucher):
    claims = make_claims(provider, voucher, [100_00] * 20)
    officers = iter([UserFactory(role=R.FINANCE) for _ in range(2)])

    def prepare() -> Payout:
        return payout_create(actor=next(officers), provider_id=provider.pk)

    results = run_concurrently(prepare, threads=2)
    made = [r for r in results if isinstance(r, Payout)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(made) == 1 and len(refused) == 1, results
    assert refused[0].code == "empty_payout"
    assert Payout.objects.count() == 1
    assert set(Claim.objects.values_list("payout_id", flat=True)) == {made[0].pk}
    assert made[0].claim_count == len(claims) and made[0].total_cents == 20 * 100_00


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_chosen_claims_at_once_go_to_one_payout(provider, voucher):
    claims = make_claims(provider, voucher, [100_00] * 6)
    ids = [c.pk for c in claims]
    picks = iter([ids[:4], ids[2:]])  # claims 2 and 3 are wanted by both
    officers = iter([UserFactory(role=R.FINANCE) for _ in range(2)])

    def prepare() -> Payout:
        return payout_create(actor=next(officers), provider_id=provider.pk, claim_ids=next(picks))

    results = run_concurrently(prepare, threads=2)
    made = [r for r in results if isinstance(r, Payout)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(made) == 1 and len(refused) == 1, results
    assert refused[0].code == "claim_in_payout"
    assert Claim.objects.filter(payout__isnull=False).count() == 4
    assert Payout.objects.get().total_cents == 4 * 100_00


# --- the bank file ----------------------------------------------------------------------------


def _parse(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_payout_export_csv_lists_every_claim_and_the_total(finance, finance2):
    provider = ProviderFactory(
        legal_name="上海算力科技有限公司", registration_number="91310000MA1K0000X1"
    )
    voucher = make_voucher(provider)
    claims = make_claims(provider, voucher, [1_000_00, 2_500_50, 1])
    Claim.objects.filter(pk=claims[1].pk).update(invoice_number="=HYPERLINK(1)")
    payout = payout_create(actor=finance, provider_id=provider.pk)
    payout_approve(actor=finance2, payout_id=payout.pk)

    filename, content = payout_export_csv(actor=finance, payout_id=payout.pk)

    assert filename == f"{payout.reference}.csv"
    rows = _parse(content)
    assert rows[0] == [
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
    body, total = rows[1:-1], rows[-1]
    assert [int(r[3]) for r in body] == sorted(c.pk for c in claims)
    by_id = {int(r[3]): r for r in body}
    first = by_id[claims[0].pk]
    assert first[:3] == [payout.reference, "上海算力科技有限公司", "91310000MA1K0000X1"]
    assert first[4:] == [
        claims[0].provider_reference,
        claims[0].invoice_number,
        voucher.code,
        "1000.00",
        "CNY",
    ]
    assert by_id[claims[1].pk][7] == "2500.50" and by_id[claims[2].pk][7] == "0.01"
    assert by_id[claims[1].pk][5] == "'=HYPERLINK(1)"  # never a formula in Excel
    assert total[3] == "TOTAL" and total[7:] == ["3500.51", "CNY"]
    assert total[0] == payout.reference
    assert sum(int(r[7].replace(".", "")) for r in body) == payout.total_cents


def test_every_export_is_audited(approved_payout, finance, auditor):
    payout_export_csv(actor=finance, payout_id=approved_payout.pk)
    _name, content = payout_export_csv(actor=auditor, payout_id=approved_payout.pk)
    exports = AuditEvent.objects.filter(
        action=AuditAction.PAYOUT_EXPORTED, target_id=str(approved_payout.pk)
    )
    assert exports.count() == 2
    import hashlib

    assert exports.last().data["sha256"] == hashlib.sha256(content).hexdigest()


def test_a_paid_payout_can_still_be_exported(paid_payout, finance):
    _name, content = payout_export_csv(actor=finance, payout_id=paid_payout.pk)
    assert _parse(content)[-1][3] == "TOTAL"


def test_a_draft_payout_cannot_be_exported(draft_payout, finance):
    with pytest.raises(ConflictError) as exc:
        payout_export_csv(actor=finance, payout_id=draft_payout.pk)
    assert exc.value.code == "not_approved"
    assert events(AuditAction.PAYOUT_EXPORTED, draft_payout) == 0


@pytest.mark.parametrize("role", [R.PROVIDER, R.APPLICANT, R.APPROVER])
def test_only_finance_auditors_and_admins_export(role, approved_payout):
    with pytest.raises(NotAllowedError):
        payout_export_csv(actor=UserFactory(role=role), payout_id=approved_payout.pk)


# --- API --------------------------------------------------------------------------------------


def _url(name: str, payout: Payout | None = None) -> str:
    return reverse(f"api:{name}", args=[payout.pk] if payout else [])


@pytest.fixture
def two_providers(finance, finance2, provider, voucher, claims) -> dict[str, Any]:
    """A draft payout for `provider` and an approved one for another provider."""
    mine = payout_create(actor=finance, provider_id=provider.pk)
    other = ProviderFactory()
    make_claims(other, make_voucher(other), [300_00])
    theirs = payout_create(actor=finance, provider_id=other.pk)
    payout_approve(actor=finance2, payout_id=theirs.pk)
    return {
        "mine": mine,
        "theirs": theirs,
        "own_staff": staff_of(provider),
        "other_staff": staff_of(other),
    }


def _who(name: str, ctx: dict[str, Any], finance: User) -> User:
    if name == "finance":
        return finance
    if name in ("own_staff", "other_staff"):
        return ctx[name]
    return UserFactory(
        role={
            "auditor": R.AUDITOR,
            "admin": R.ADMIN,
            "applicant": R.APPLICANT,
            "reviewer": R.REVIEWER,
            "approver": R.APPROVER,
        }[name]
    )


@pytest.mark.parametrize(
    "who, expected",
    [
        ("finance", 200),
        ("auditor", 200),
        ("admin", 200),
        ("own_staff", 200),
        ("other_staff", 404),
        ("applicant", 404),
        ("reviewer", 404),
        ("approver", 404),
    ],
)
def test_api_payout_detail_permissions(who, expected, two_providers, finance):
    payout = two_providers["mine"]
    response = api_as(_who(who, two_providers, finance)).get(_url("payout", payout))
    assert response.status_code == expected, response.content
    if expected == 200:
        body = response.json()
        assert body["reference"] == payout.reference and body["total"] == "3500.51"
        assert len(body["claims"]) == 3 and body["claims"][0]["voucher_code"]
    else:
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "who, expected_refs",
    [
        ("finance", {"mine", "theirs"}),
        ("auditor", {"mine", "theirs"}),
        ("admin", {"mine", "theirs"}),
        ("own_staff", {"mine"}),
        ("other_staff", {"theirs"}),
        ("applicant", None),
        ("reviewer", None),
    ],
)
def test_api_payout_list_shows_what_each_may_see(who, expected_refs, two_providers, finance):
    response = api_as(_who(who, two_providers, finance)).get(_url("payouts"))
    if expected_refs is None:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    refs = {r["reference"] for r in response.json()["results"]}
    assert refs == {two_providers[k].reference for k in expected_refs}


def test_api_payout_list_filters(two_providers, finance):
    client = api_as(finance)
    drafts = client.get(_url("payouts"), {"status": "draft"}).json()["results"]
    assert [r["reference"] for r in drafts] == [two_providers["mine"].reference]
    theirs = two_providers["theirs"]
    by_provider = client.get(_url("payouts"), {"provider": theirs.provider_id}).json()["results"]
    assert [r["reference"] for r in by_provider] == [theirs.reference]
    assert client.get(_url("payouts"), {"status": "nonsense"}).status_code == 400


def test_api_payout_list_costs_the_same_queries_at_any_size(
    two_providers, finance, django_assert_max_num_queries
):
    client = api_as(finance)
    with django_assert_max_num_queries(4):
        assert client.get(_url("payouts")).status_code == 200


def test_api_payout_create_approve_pay_export(finance, finance2, provider, claims):
    created = api_as(finance).post(
        _url("payouts"), {"provider": provider.pk, "claims": [claims[0].pk, claims[1].pk]}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "draft" and body["total"] == "3500.50" and body["claim_count"] == 2
    payout = Payout.objects.get(pk=body["id"])

    refused = api_as(finance).post(_url("payout-approve", payout))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "four_eyes"
    approved = api_as(finance2).post(_url("payout-approve", payout))
    assert approved.status_code == 200 and approved.json()["approved_by"] == finance2.full_name
    assert api_as(finance2).post(_url("payout-approve", payout)).status_code == 200  # no-op

    assert api_as(finance).post(_url("payout-paid", payout), {}).status_code == 400
    short = api_as(finance).post(_url("payout-paid", payout), {"bank_reference": "ab"})
    assert short.status_code == 400 and "bank_reference" in short.json()["error"]["fields"]
    paid = api_as(finance).post(_url("payout-paid", payout), {"bank_reference": "BOC-77"})
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    clash = api_as(finance).post(_url("payout-paid", payout), {"bank_reference": "BOC-78"})
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "already_paid"

    export = api_as(finance).get(_url("payout-export", payout), HTTP_ACCEPT="text/csv")
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    assert f'filename="{payout.reference}.csv"' in export["Content-Disposition"]
    assert _parse(export.content)[-1][7] == "3500.50"


def test_api_payout_create_errors_are_json(finance, provider, voucher):
    client = api_as(finance)
    empty = client.post(_url("payouts"), {"provider": provider.pk})
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_payout"
    unknown = client.post(_url("payouts"), {"provider": provider.pk, "status": "paid"})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_field"
    huge = client.post(_url("payouts"), {"provider": provider.pk, "claims": [2**70]})
    assert huge.status_code == 400


@pytest.mark.parametrize("who", ["auditor", "admin", "own_staff", "applicant", "approver"])
def test_api_only_finance_prepares(who, two_providers, finance, provider):
    response = api_as(_who(who, two_providers, finance)).post(
        _url("payouts"), {"provider": provider.pk}
    )
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED).exists()


@pytest.mark.parametrize(
    "who, expected",
    [
        ("finance", 403),  # the creator: four eyes
        ("auditor", 403),
        ("admin", 403),
        ("own_staff", 403),
        ("other_staff", 404),
        ("applicant", 404),
    ],
)
def test_api_payout_approve_permissions(who, expected, two_providers, finance):
    payout = two_providers["mine"]
    response = api_as(_who(who, two_providers, finance)).post(_url("payout-approve", payout))
    assert response.status_code == expected
    payout.refresh_from_db()
    assert payout.status == Payout.Status.DRAFT


@pytest.mark.parametrize(
    "who, expected",
    [
        ("finance", 200),
        ("auditor", 403),
        ("own_staff", 404),  # the approved payout belongs to the other provider
        ("other_staff", 403),
        ("applicant", 404),
    ],
)
def test_api_payout_paid_permissions(who, expected, two_providers, finance):
    payout = two_providers["theirs"]
    response = api_as(_who(who, two_providers, finance)).post(
        _url("payout-paid", payout), {"bank_reference": "BOC-9"}
    )
    assert response.status_code == expected


@pytest.mark.parametrize(
    "who, expected",
    [
        ("finance", 200),
        ("auditor", 200),
        ("admin", 200),
        ("own_staff", 404),
        ("other_staff", 403),
        ("applicant", 404),
    ],
)
def test_api_payout_export_permissions(who, expected, two_providers, finance):
    payout = two_providers["theirs"]
    response = api_as(_who(who, two_providers, finance)).get(_url("payout-export", payout))
    assert response.status_code == expected
    if expected != 200:
        assert response.json()["error"]["code"]


def test_api_export_of_a_draft_is_a_conflict(two_providers, finance):
    response = api_as(finance).get(_url("payout-export", two_providers["mine"]))
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_approved"


def test_api_unknown_payout_is_404(finance):
    assert api_as(finance).get("/api/v1/payouts/999999999/").status_code == 404
    assert api_as(finance).get(f"/api/v1/payouts/{2**64}/").status_code == 404


def test_api_anonymous_is_refused(api, draft_payout):
    assert api.get(_url("payouts")).status_code in (401, 403)
    assert api.get(_url("payout", draft_payout)).status_code in (401, 403)


# --- pages ------------------------------------------------------------------------------------


def test_finance_list_page_shows_payouts_and_the_prepare_action(client, finance, draft_payout):
    client.force_login(finance)
    html = client.get(reverse("finance:payout_list")).content.decode()
    assert draft_payout.reference in html and 'data-testid="prepare-payout"' in html
    filtered = client.get(reverse("finance:payout_list"), {"status": "paid"}).content.decode()
    assert draft_payout.reference not in filtered


def test_auditor_sees_the_pages_without_actions(client, auditor, draft_payout):
    client.force_login(auditor)
    html = client.get(reverse("finance:payout_list")).content.decode()
    assert draft_payout.reference in html and "prepare-payout" not in html
    detail = client.get(reverse("finance:payout_detail", args=[draft_payout.pk])).content.decode()
    assert draft_payout.reference in detail and 'data-testid="approve"' not in detail
    assert client.get(reverse("finance:payout_prepare")).status_code == 403
    response = client.post(reverse("finance:payout_approve", args=[draft_payout.pk]))
    assert response.status_code == 403
    draft_payout.refresh_from_db()
    assert draft_payout.status == Payout.Status.DRAFT


@pytest.mark.parametrize("role", [R.APPLICANT, R.PROVIDER, R.REVIEWER, R.APPROVER])
def test_finance_pages_are_closed_to_other_roles(role, client, draft_payout):
    client.force_login(UserFactory(role=role))
    assert client.get(reverse("finance:payout_list")).status_code == 403
    assert client.get(reverse("finance:payout_detail", args=[draft_payout.pk])).status_code == 403


def test_prepare_pages_show_unpaid_claims_per_provider_and_create_the_payout(
    client, finance, provider, claims
):
    client.force_login(finance)
    summary = client.get(reverse("finance:payout_prepare")).content.decode()
    assert f'data-testid="unpaid-{provider.pk}-CNY"' in summary
    assert "CNY 3,500.51" in summary and ">3<" in summary
    url = reverse("finance:payout_prepare_provider", args=[provider.pk]) + "?currency=CNY"
    page = client.get(url).content.decode()
    for claim in claims:
        assert f'value="{claim.pk}"' in page and claim.invoice_number in page
    response = client.post(url, {"claims": [claims[0].pk, claims[1].pk]})
    payout = Payout.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("finance:payout_detail", args=[payout.pk])
    assert payout.claim_count == 2 and payout.created_by == finance


def test_prepare_page_shows_errors_inline(client, finance, provider, voucher, claims):
    make_claims(provider, make_voucher(provider, currency="USD"), [100_00])
    client.force_login(finance)
    url = reverse("finance:payout_prepare_provider", args=[provider.pk])
    html = client.get(url).content.decode()
    assert "several currencies" in html
    everything = list(Claim.objects.values_list("pk", flat=True))
    response = client.post(url, {"claims": everything})
    assert response.status_code == 400
    assert (
        "CNY, USD" in response.content.decode()
        and 'class="error-summary"' in response.content.decode()
    )
    nothing = client.post(url + "?currency=CNY", {})
    assert nothing.status_code == 400 and "Choose at least one claim" in nothing.content.decode()
    assert not Payout.objects.exists()


def test_payout_page_hides_approve_from_its_creator_with_the_reason(client, finance, draft_payout):
    client.force_login(finance)
    html = client.get(reverse("finance:payout_detail", args=[draft_payout.pk])).content.decode()
    assert 'data-testid="approve-blocked"' in html and "four eyes" in html
    assert 'data-testid="approve"' not in html
    response = client.post(reverse("finance:payout_approve", args=[draft_payout.pk]), follow=True)
    assert "four eyes" in response.content.decode()
    draft_payout.refresh_from_db()
    assert draft_payout.status == Payout.Status.DRAFT


def test_payout_page_approve_mark_paid_and_download(client, finance, finance2, draft_payout):
    client.force_login(finance2)
    detail = reverse("finance:payout_detail", args=[draft_payout.pk])
    assert 'data-testid="approve"' in client.get(detail).content.decode()
    client.post(reverse("finance:payout_approve", args=[draft_payout.pk]))
    draft_payout.refresh_from_db()
    assert draft_payout.status == Payout.Status.APPROVED

    html = client.get(detail).content.decode()
    assert 'data-testid="paid-form"' in html and 'data-testid="download-csv"' in html
    bad = client.post(
        reverse("finance:payout_mark_paid", args=[draft_payout.pk]), {"bank_reference": "ab"}
    )
    assert bad.status_code == 400 and "bank&#x27;s reference" in bad.content.decode()
    good = client.post(
        reverse("finance:payout_mark_paid", args=[draft_payout.pk]), {"bank_reference": "BOC-55"}
    )
    assert good.status_code == 302
    draft_payout.refresh_from_db()
    assert draft_payout.status == Payout.Status.PAID and draft_payout.bank_reference == "BOC-55"

    csv_response = client.get(reverse("finance:payout_export", args=[draft_payout.pk]))
    assert csv_response.status_code == 200 and csv_response["Content-Type"].startswith("text/csv")
    assert _parse(csv_response.content)[-1][7] == "3500.51"
    html = client.get(detail).content.decode()
    assert "BOC-55" in html and "Payout exported for the bank" in html


def test_payout_page_download_of_a_draft_explains(client, finance, draft_payout):
    client.force_login(finance)
    response = client.get(reverse("finance:payout_export", args=[draft_payout.pk]), follow=True)
    assert "only approved or paid payouts" in response.content.decode()


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {"provider": "abc"},
        {"provider": 1.5},
        {"provider": 2**70},
        {"provider": None},
        {"provider": 1, "claims": "1,2"},
        {"provider": 1, "claims": [None]},
        {"provider": 1, "claims": [1.5]},
        {"provider": 1, "claims": [-1]},
        {"provider": 1, "claims": []},
    ],
)
def test_api_payout_create_bad_bodies_are_400(body, finance):
    response = api_as(finance).post(_url("payouts"), body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"]


@pytest.mark.parametrize(
    "body", [{}, {"bank_reference": None}, {"bank_reference": ["x"]}, {"bank_reference": "x" * 201}]
)
def test_api_payout_paid_bad_bodies_are_400(body, approved_payout, finance):
    response = api_as(finance).post(_url("payout-paid", approved_payout), body, format="json")
    assert response.status_code == 400, response.content
