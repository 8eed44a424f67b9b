from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from disbursement.models import ProviderStaff
from disbursement.services.claims import ClaimInput, LineInput
from tests.factories import UserFactory
from tests.vouchers.conftest import approved, ready  # noqa: F401  (fixtures used here)
from vouchers import services as voucher_services


@pytest.fixture
def provider_staff(provider: Any) -> Any:
    user = UserFactory(role="provider")
    ProviderStaff.objects.create(provider=provider, user=user)
    return user


@pytest.fixture
def active_voucher(approved: Any, applicant: Any) -> Any:  # noqa: F811
    """Approved for 150,000.00 (rates: 30% standard, 50% domestic), accepted: active."""
    return voucher_services.voucher_accept(actor=applicant, voucher_id=approved.voucher.pk)


_numbers = iter(range(1, 10**9))


def claim_input(
    voucher: Any,
    *,
    lines: list[tuple[str, int]] | None = None,
    reference: str | None = None,
    invoice: str | None = None,
    total: int | None = None,
    currency: str | None = None,
    code: str | None = None,
    start: Any = None,
    end: Any = None,
) -> ClaimInput:
    n = next(_numbers)
    lines = lines or [("domestic", 10_000_00), ("foreign", 20_000_00)]
    today = timezone.localdate()
    return ClaimInput(
        voucher_code=code or voucher.code,
        provider_reference=reference or f"REF-{n}",
        invoice_number=invoice or f"INV-{n}",
        invoice_total_cents=total if total is not None else sum(a for _, a in lines),
        currency=currency or voucher.currency,
        service_period_start=start or today,
        service_period_end=end or today + timedelta(days=1),
        lines=[
            LineInput(chip_origin=c, gpu_hours=Decimal("10.5"), amount_cents=a) for c, a in lines
        ],
    )
