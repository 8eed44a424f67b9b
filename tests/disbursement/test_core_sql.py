"""core/sql.py writes and reads exactly what the ORM would."""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict

from core.sql import insert, insert_many, instance_from_row, select_list
from disbursement.models import Claim, ClaimLine
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db


def _claim(provider: Any, voucher: Any, actor: Any, reference: str) -> Claim:
    return Claim(
        provider=provider,
        provider_reference=reference,
        request_sha256="0" * 64,
        voucher=voucher,
        voucher_code_submitted=voucher.code,
        invoice_number=f"INV-{reference}",
        invoice_total_cents=300_00,
        currency=voucher.currency,
        service_period_start=date(2026, 3, 1),
        service_period_end=date(2026, 3, 31),
        status=Claim.Status.ACCEPTED,
        eligible_cents=300_00,
        subsidy_cents=100_00,
        billed_to_startup_cents=200_00,
        calculation={"lines": [{"rate_bps": 3000, "note": "中文 ✓"}], "total": 100_00},
        submitted_by=actor,
    )


def test_insert_writes_the_row_the_orm_writes(
    provider: Any, provider_staff: Any, active_voucher: Any
):
    fast = insert(_claim(provider, active_voucher, provider_staff, "fast"))
    orm = _claim(provider, active_voucher, provider_staff, "orm")
    orm.save()
    assert fast.pk is not None and not fast._state.adding and fast._state.db == "default"
    assert fast.created_at is not None and fast.updated_at is not None  # auto_now(_add) applied
    stored_fast, stored_orm = Claim.objects.get(pk=fast.pk), Claim.objects.get(pk=orm.pk)
    ignore = {"id", "provider_reference", "invoice_number"}
    as_dict = lambda c: {k: v for k, v in model_to_dict(c).items() if k not in ignore}  # noqa: E731
    assert as_dict(stored_fast) == as_dict(stored_orm)
    assert stored_fast.calculation == {
        "lines": [{"rate_bps": 3000, "note": "中文 ✓"}],
        "total": 100_00,
    }
    assert stored_fast.created_at == fast.created_at


def test_insert_many_returns_every_key_in_order(
    provider: Any, provider_staff: Any, active_voucher: Any
):
    claim = insert(_claim(provider, active_voucher, provider_staff, "lines"))
    lines = [
        ClaimLine(
            claim=claim,
            position=n,
            description=f"line {n}",
            chip_origin="foreign",
            gpu_hours=Decimal("10.25") * n,
            amount_cents=100_00 * n,
            rate_bps=3000,
            subsidy_cents=30_00 * n,
        )
        for n in (1, 2, 3)
    ]
    insert_many(lines)
    stored = {line.pk: line for line in ClaimLine.objects.filter(claim=claim)}
    assert sorted(stored) == sorted(line.pk for line in lines)
    for line in lines:
        assert stored[line.pk].position == line.position
        assert stored[line.pk].gpu_hours == line.gpu_hours
    assert insert_many([]) == []


def test_insert_many_refuses_mixed_models(provider: Any, provider_staff: Any, active_voucher: Any):
    claim = _claim(provider, active_voucher, provider_staff, "mixed")
    with pytest.raises(TypeError):
        insert_many([claim, active_voucher])


def test_constraints_still_apply(provider: Any, provider_staff: Any, active_voucher: Any):
    insert(_claim(provider, active_voucher, provider_staff, "twice"))
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(_claim(provider, active_voucher, provider_staff, "twice"))
    bad = _claim(provider, active_voucher, provider_staff, "bad")
    bad.subsidy_cents = bad.eligible_cents + 1
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(bad)
    assert not Claim.objects.filter(provider_reference="bad").exists()


def test_instance_from_row_matches_the_orm(active_voucher: Any):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {select_list(Voucher, 'v')}, 42 FROM {Voucher._meta.db_table} v WHERE v.id = %s",  # noqa: S608
            [active_voucher.pk],
        )
        row = cursor.fetchone()
    loaded = instance_from_row(Voucher, row)
    assert row[-1] == 42  # the caller's extra column is left alone
    expected = Voucher.objects.get(pk=active_voucher.pk)
    for field in Voucher._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(expected, field.attname), field.name
        assert type(getattr(loaded, field.attname)) is type(getattr(expected, field.attname))
    assert not loaded._state.adding
