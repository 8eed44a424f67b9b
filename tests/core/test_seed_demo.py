"""`manage.py seed_demo`, which `make run` calls on every start: complete, and safe to run again."""

from typing import Any

import pytest
from django.core.management import call_command

from accounts.models import User
from applicants.models import Application
from disbursement.models import Claim, LedgerEntry, ProviderStaff
from vouchers.models import AwardLetter, Voucher

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "applications": Application.objects.count(),
        "vouchers": Voucher.objects.count(),
        "claims": Claim.objects.count(),
        "ledger": LedgerEntry.objects.count(),
    }


def test_seed_demo_builds_every_role_and_a_voucher_in_use(settings: Any) -> None:
    call_command("seed_demo", "--quiet")
    for role in User.Role.values:
        user = User.objects.get(email=f"{role}@vouchers.example")
        assert user.check_password("demo-pass-2026")
    staff = ProviderStaff.objects.get(user__email="provider@vouchers.example")

    voucher = Voucher.objects.get(status=Voucher.Status.ACTIVE)
    assert voucher.letters.get().status == AwardLetter.Status.READY
    claims = {c.provider_reference: c for c in Claim.objects.filter(voucher=voucher)}
    assert claims["SHCH-2026-0001"].status == Claim.Status.ACCEPTED
    assert claims["SHCH-2026-0001"].provider_id == staff.provider_id
    assert claims["SHCH-2026-0002"].status == Claim.Status.REJECTED
    voucher.refresh_from_db()
    assert voucher.spent_cents == claims["SHCH-2026-0001"].subsidy_cents > 0
    assert [e.kind for e in voucher.ledger.order_by("id")] == ["issue", "charge"]

    statuses = sorted(Application.objects.values_list("status", flat=True))
    assert statuses.count("in_review") >= 2
    assert "approved" in statuses


def test_seed_demo_twice_adds_nothing() -> None:
    call_command("seed_demo", "--quiet")
    before = counts()
    call_command("seed_demo", "--quiet", "--password", "another-pass-2026")
    assert counts() == before
    assert User.objects.get(email="approver@vouchers.example").check_password("another-pass-2026")
