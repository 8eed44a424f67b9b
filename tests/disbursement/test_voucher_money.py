"""Officer and system actions on voucher money, and the claims API."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from core.exceptions import ConflictError, DomainError, NotAllowedError
from disbursement.models import Alert, Claim, LedgerEntry, ProviderStaff
from disbursement.services import vouchers as money
from disbursement.services.claims import claim_submit
from tests.conftest import api_as
from tests.disbursement.conftest import claim_input
from tests.factories import ProviderFactory, UserFactory
from vouchers.models import Program, Voucher

pytestmark = pytest.mark.django_db


def _charge(staff, voucher, **kw):
    return claim_submit(
        actor=staff, provider=staff.provider_staff.provider, data=claim_input(voucher, **kw)
    ).claim


def _sums(voucher):
    return voucher.ledger.aggregate(
        spent=Sum("spent_delta_cents"),
        cap=Sum("cap_delta_cents"),
        committed=Sum("committed_delta_cents"),
    )


def test_reversal_gives_the_subsidy_back_as_a_new_entry(provider_staff, active_voucher, approver):
    claim = _charge(provider_staff, active_voucher)
    with pytest.raises(DomainError):
        money.claim_reverse(actor=approver, claim_id=claim.pk, reason="x")
    with pytest.raises(NotAllowedError):
        money.claim_reverse(actor=provider_staff, claim_id=claim.pk, reason="Credit note 12 issued")
    reversed_claim = money.claim_reverse(
        actor=approver, claim_id=claim.pk, reason="Credit note 12 issued"
    )
    assert reversed_claim.status == "reversed"
    again = money.claim_reverse(actor=approver, claim_id=claim.pk, reason="Credit note 12 issued")
    assert again.reversed_at == reversed_claim.reversed_at
    active_voucher.refresh_from_db()
    assert active_voucher.spent_cents == 0 == _sums(active_voucher)["spent"]
    assert list(
        LedgerEntry.objects.filter(voucher=active_voucher).values_list("kind", flat=True)
    ) == ["issue", "charge", "reversal"]


def test_clawback_returns_money_to_the_program(provider_staff, active_voucher, approver, program):
    _charge(provider_staff, active_voucher)  # 11,000.00 spent
    program.refresh_from_db()
    committed = program.committed_cents
    with pytest.raises(DomainError) as exc:
        money.voucher_clawback(
            actor=approver,
            voucher_id=active_voucher.pk,
            amount_cents=12_000_00,
            reason="Invoice found to be forged",
        )
    assert exc.value.code == "amount_out_of_range"
    money.voucher_clawback(
        actor=approver,
        voucher_id=active_voucher.pk,
        amount_cents=5_000_00,
        reason="Invoice found to be forged",
    )
    active_voucher.refresh_from_db()
    program.refresh_from_db()
    assert (active_voucher.spent_cents, active_voucher.cap_cents) == (6_000_00, 145_000_00)
    assert program.committed_cents == committed - 5_000_00
    sums = _sums(active_voucher)
    assert (sums["spent"], sums["cap"]) == (6_000_00, 145_000_00)
    assert (
        Program.objects.get(pk=program.pk).committed_cents
        == (
            LedgerEntry.objects.filter(program=program).aggregate(s=Sum("committed_delta_cents"))[
                "s"
            ]
        )
    )


def test_suspend_blocks_claims_and_reinstate_restores(provider_staff, active_voucher, approver):
    money.voucher_suspend(
        actor=approver, voucher_id=active_voucher.pk, reason="Checking an invoice"
    )
    assert _charge(provider_staff, active_voucher).rejection_code == "voucher_suspended"
    money.voucher_reinstate(
        actor=approver, voucher_id=active_voucher.pk, reason="Invoice checked, fine"
    )
    assert _charge(provider_staff, active_voucher).status == "accepted"
    with pytest.raises(NotAllowedError):
        money.voucher_suspend(
            actor=UserFactory(role="reviewer"), voucher_id=active_voucher.pk, reason="x" * 20
        )


def test_expiry_releases_the_unspent_amount(provider_staff, active_voucher, program):
    _charge(provider_staff, active_voucher)  # 11,000.00 spent of 150,000.00
    program.refresh_from_db()
    committed = program.committed_cents
    Voucher.objects.filter(pk=active_voucher.pk).update(
        valid_from=timezone.now() - timedelta(days=365),
        valid_until=timezone.now() - timedelta(minutes=1),
    )
    call_command("expire_vouchers")
    active_voucher.refresh_from_db()
    program.refresh_from_db()
    assert (
        active_voucher.status == "expired"
        and active_voucher.cap_cents == active_voucher.spent_cents
    )
    assert program.committed_cents == committed - 139_000_00
    release = LedgerEntry.objects.get(voucher=active_voucher, kind="expiry_release")
    assert release.cap_delta_cents == release.committed_delta_cents == -139_000_00
    assert Alert.objects.filter(kind="expired", voucher=active_voucher).count() == 1
    money.voucher_expire(voucher_id=active_voucher.pk)  # idempotent
    assert LedgerEntry.objects.filter(voucher=active_voucher, kind="expiry_release").count() == 1
    assert _charge(provider_staff, active_voucher).rejection_code == "voucher_expired"


# --- found by the state machine (tests/disbursement/test_state_machine.py) --------------------


def _past_validity(voucher):
    Voucher.objects.filter(pk=voucher.pk).update(
        valid_from=timezone.now() - timedelta(days=365),
        valid_until=timezone.now() - timedelta(minutes=1),
    )


def test_an_unused_voucher_expires_to_a_cap_of_zero(active_voucher, program):
    """Was an IntegrityError (CHECK cap > 0): the nightly expiry failed on every unused voucher."""
    program.refresh_from_db()
    committed = program.committed_cents
    _past_validity(active_voucher)
    money.voucher_expire(voucher_id=active_voucher.pk)
    active_voucher.refresh_from_db()
    program.refresh_from_db()
    assert (active_voucher.status, active_voucher.spent_cents, active_voucher.cap_cents) == (
        "expired",
        0,
        0,
    )
    assert program.committed_cents == committed - 150_000_00


def test_everything_clawed_back_from_an_exhausted_voucher(provider_staff, active_voucher, approver):
    _charge(provider_staff, active_voucher, lines=[("domestic", 300_000_00)])  # 150,000.00
    money.voucher_clawback(
        actor=approver,
        voucher_id=active_voucher.pk,
        amount_cents=150_000_00,
        reason="The whole invoice was forged",
    )
    active_voucher.refresh_from_db()
    assert (active_voucher.spent_cents, active_voucher.cap_cents) == (0, 0)


def test_a_claim_clawed_back_cannot_be_reversed_too(provider_staff, active_voucher, approver):
    """Was an IntegrityError (a 500): the reversal took spent below zero."""
    claim = _charge(provider_staff, active_voucher)  # 11,000.00
    money.voucher_clawback(
        actor=approver,
        voucher_id=active_voucher.pk,
        amount_cents=11_000_00,
        reason="Invoice found to be forged",
    )
    with pytest.raises(ConflictError) as refused:
        money.claim_reverse(actor=approver, claim_id=claim.pk, reason="Credit note 12 issued")
    assert refused.value.code == "clawed_back"
    claim.refresh_from_db()
    assert claim.status == "accepted"
    assert LedgerEntry.objects.filter(voucher=active_voucher, kind="reversal").count() == 0


def test_a_reversal_after_expiry_is_released_to_the_program(
    provider_staff, active_voucher, approver, program
):
    """Was money stuck: the reversal lowered spent under the expired cap, and nobody could use or
    release the difference."""
    claim = _charge(provider_staff, active_voucher)  # 11,000.00
    _past_validity(active_voucher)
    money.voucher_expire(voucher_id=active_voucher.pk)
    program.refresh_from_db()
    committed = program.committed_cents
    money.claim_reverse(actor=approver, claim_id=claim.pk, reason="Credit note 12 issued")
    active_voucher.refresh_from_db()
    program.refresh_from_db()
    assert (active_voucher.spent_cents, active_voucher.cap_cents) == (0, 0)
    assert program.committed_cents == committed - 11_000_00
    assert (_sums(active_voucher)["spent"], _sums(active_voucher)["cap"]) == (0, 0)


def test_reinstating_undoes_a_suspension_only(provider_staff, active_voucher, approver):
    """Was allowed: 'reinstate' turned an exhausted voucher active with nothing left on it."""
    _charge(provider_staff, active_voucher, lines=[("domestic", 300_000_00)])
    active_voucher.refresh_from_db()
    assert active_voucher.status == "exhausted"
    with pytest.raises(ConflictError):
        money.voucher_reinstate(
            actor=approver, voucher_id=active_voucher.pk, reason="Invoice checked, fine"
        )
    active_voucher.refresh_from_db()
    assert active_voucher.status == "exhausted"


def test_vouchers_still_valid_are_not_expired(active_voucher):
    assert money.vouchers_expire_due() == 0
    active_voucher.refresh_from_db()
    assert active_voucher.status == "active"


# --- the claims API ---------------------------------------------------------------------------


def _payload(voucher, **kw):
    today = timezone.localdate()
    body = {
        "voucher_code": voucher.code,
        "reference": "R-1",
        "invoice_number": "I-1",
        "invoice_total": "30000.00",
        "currency": voucher.currency,
        "service_period_start": today.isoformat(),
        "service_period_end": today.isoformat(),
        "lines": [
            {"chip_origin": "domestic", "gpu_hours": "120.5", "amount": "10000.00"},
            {"chip_origin": "foreign", "gpu_hours": 80, "amount": "20000.00"},
        ],
    }
    body.update(kw)
    return body


def test_claims_api_accepts_replays_and_conflicts(provider_staff, active_voucher):
    client = api_as(provider_staff)
    first = client.post("/api/v1/claims/", _payload(active_voucher), format="json")
    assert first.status_code == 201, first.content
    assert first.json()["subsidy"] == "11000.00" and first.json()["billed_to_startup"] == "19000.00"
    replay = client.post("/api/v1/claims/", _payload(active_voucher), format="json")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    conflict = client.post(
        "/api/v1/claims/", _payload(active_voucher, invoice_total="30000.01"), format="json"
    )
    assert (
        conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency_conflict"
    )
    rejected = client.post(
        "/api/v1/claims/", _payload(active_voucher, reference="R-2", currency="EUR"), format="json"
    )
    assert rejected.status_code == 422 and rejected.json()["rejection_code"] == "currency_mismatch"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lines": []}, "lines"),
        ({"invoice_total": "-5"}, "invoice_total"),
        ({"invoice_total": "1e5"}, "invoice_total"),
        (
            {"lines": [{"chip_origin": "domestic", "gpu_hours": "abc", "amount": "1.00"}]},
            "lines.0.gpu_hours",
        ),
        (
            {"lines": [{"chip_origin": "domestic", "gpu_hours": "1", "amount": "0.001"}]},
            "lines.0.amount",
        ),
        ({"service_period_end": "2000-01-01"}, "service_period_end"),
        ({"voucher_code": "x" * 200}, "voucher_code"),
        ({"status": "accepted"}, "status"),
    ],
)
def test_claims_api_refuses_malformed_requests_without_storing(
    provider_staff, active_voucher, change, field
):
    response = api_as(provider_staff).post(
        "/api/v1/claims/", _payload(active_voucher, **change), format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Claim.objects.exists()


def test_only_provider_staff_submit_claims(applicant, approver, active_voucher):
    for user in (applicant, approver):
        assert (
            api_as(user)
            .post("/api/v1/claims/", _payload(active_voucher), format="json")
            .status_code
            == 403
        )


def test_a_provider_token_cannot_read_another_providers_claims(
    provider_staff, active_voucher, program
):
    from accounts.services import api_token_create

    claim = _charge(provider_staff, active_voucher)
    rival = ProviderFactory()
    program.approved_providers.add(rival)
    rival_staff = UserFactory(role="provider")
    ProviderStaff.objects.create(provider=rival, user=rival_staff)
    token, raw = api_token_create(user=rival_staff, name="rival")
    assert token.provider == rival
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert client.get("/api/v1/claims/").json()["count"] == 0
    assert client.get(f"/api/v1/claims/{claim.pk}/").status_code == 404
    assert client.get(f"/api/v1/vouchers/{active_voucher.pk}/ledger/").status_code == 404
    # The token stops working when its owner no longer acts for the provider.
    ProviderStaff.objects.filter(user=rival_staff).delete()
    assert client.get("/api/v1/claims/").status_code == 401


def test_applicant_sees_the_claims_and_ledger_of_its_voucher(
    provider_staff, active_voucher, applicant, other_applicant
):
    _charge(provider_staff, active_voucher)
    mine = api_as(applicant).get("/api/v1/claims/").json()
    assert mine["count"] == 1 and mine["results"][0]["calculation"]["subsidy_cents"] == 11_000_00
    assert api_as(other_applicant).get("/api/v1/claims/").json()["count"] == 0
    ledger = api_as(applicant).get(f"/api/v1/vouchers/{active_voucher.pk}/ledger/").json()
    assert ledger["count"] == 2
    ledger = ledger["results"]
    assert [e["kind"] for e in ledger] == ["issue", "charge"] and ledger[1][
        "spent_delta"
    ] == "11000.00"


def test_officer_api_actions(provider_staff, active_voucher, approver):
    claim = _charge(provider_staff, active_voucher)
    client = api_as(approver)
    assert (
        client.post(
            f"/api/v1/vouchers/{active_voucher.pk}/suspend/", {"reason": "short"}, format="json"
        ).status_code
        == 400
    )
    assert (
        client.post(
            f"/api/v1/vouchers/{active_voucher.pk}/suspend/",
            {"reason": "Checking invoice 7"},
            format="json",
        ).json()["status"]
        == "suspended"
    )
    assert (
        client.post(
            f"/api/v1/vouchers/{active_voucher.pk}/reinstate/",
            {"reason": "Checked, all good"},
            format="json",
        ).json()["status"]
        == "active"
    )
    reversed_ = client.post(
        f"/api/v1/claims/{claim.pk}/reverse/", {"reason": "Provider credit note"}, format="json"
    )
    assert reversed_.status_code == 200 and reversed_.json()["status"] == "reversed"
    again = api_as(provider_staff).post(
        f"/api/v1/claims/{claim.pk}/reverse/", {"reason": "mine mine mine"}, format="json"
    )
    assert again.status_code == 403
    Voucher.objects.filter(pk=active_voucher.pk).update(status="expired")
    with pytest.raises(ConflictError):
        money.voucher_reinstate(
            actor=approver, voucher_id=active_voucher.pk, reason="cannot come back"
        )


def test_a_database_outage_answers_503_with_retry_after(provider_staff, active_voucher):
    """The real outage is in tests/faults/test_postgres_restarted.py; here, the answer's shape:
    503, Retry-After, the usual JSON error, and no claim half-recorded."""
    from unittest import mock

    from django.db import OperationalError

    from disbursement.services import claims as claim_services

    client = api_as(provider_staff)
    with mock.patch.object(
        claim_services,
        "claim_submit",
        side_effect=OperationalError("server closed the connection unexpectedly"),
    ):
        response = client.post("/api/v1/claims/", _payload(active_voucher), format="json")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "service_unavailable"
    assert not Claim.objects.exists()
    retried = client.post("/api/v1/claims/", _payload(active_voucher), format="json")
    assert retried.status_code == 201
