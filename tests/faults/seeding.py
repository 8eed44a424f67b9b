"""State for the fault tests, built through the real services (history matters: audit chains,
ledger entries, letters), in the test process or in a helper process (tests/faults/remote.py).

Factories only make the rows no service creates for us (users, organizations), as elsewhere in
the suite (tests/factories.py).
"""

import json
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import User
from accounts.services import api_token_create
from applicants import services as applicant_services
from applicants.models import Application
from disbursement.models import Provider
from disbursement.services.providers import provider_create, provider_staff_add
from tests.conftest import COMPLETE_ANSWERS, declare_no_conflict
from tests.factories import DEFAULT_RUBRIC, OrganizationFactory, UserFactory, make_uscc, pdf_upload
from vouchers import services as voucher_services
from vouchers.models import Program, Voucher

AWARD_CENTS = 150_000_00


def program_with_providers(*, admin: User, providers: int, label: str = "F") -> Program:
    """A program open for applications, with `providers` approved providers, all via services."""
    created = [
        provider_create(
            actor=admin,
            short_name=f"{label} DC {i}",
            legal_name=f"{label} Data Centre {i} Co., Ltd.",
            registration_number=make_uscc(800_000 + i),
            region="CN-SH",
            chip_origins=["domestic", "foreign"],
        )
        for i in range(providers)
    ]
    now = timezone.now()
    program = voucher_services.program_create(
        actor=admin,
        providers=created,
        code=f"{label}-2026",
        slug=f"{label.lower()}-faults-2026",
        name=f"Fault test program {label}",
        region="CN-SH",
        currency="CNY",
        budget_cents=100_000_000_00,
        allowed_regions=["CN-SH"],
        opens_at=now - timedelta(days=10),
        closes_at=now + timedelta(days=30),
        is_published=True,
        authority_name="Shanghai Municipal Commission of Economy and Informatization",
        authority_name_zh="上海市经济和信息化委员会",
        signatory_name="Zhang Hua",
        signatory_title="Director, Compute Voucher Program Office",
    )
    for position, (code, name, weight) in enumerate(DEFAULT_RUBRIC):
        voucher_services.criterion_save(
            actor=admin,
            program_id=program.pk,
            code=code,
            name=name,
            weight=weight,
            max_score=5,
            position=position,
        )
    return program


def provider_client(*, admin: User, provider: Provider) -> tuple[User, str]:
    """A provider staff account with its API token (the raw value)."""
    user = UserFactory(role=User.Role.PROVIDER)
    provider_staff_add(actor=admin, provider_id=provider.pk, user_id=user.pk)
    _token, raw = api_token_create(user=user, name="fault test")
    return user, raw


def submitted_application(*, program: Program, provider: Provider) -> Application:
    """A founder, their organization and a complete application, submitted."""
    founder = UserFactory()
    org = OrganizationFactory(owner=founder)
    app = applicant_services.application_create(
        actor=founder, organization_id=org.pk, program_id=program.pk
    )
    applicant_services.application_update(
        actor=founder,
        application_id=app.pk,
        values={**COMPLETE_ANSWERS, "intended_provider": provider},
    )
    applicant_services.document_add(
        actor=founder, application_id=app.pk, kind="business_licence", upload=pdf_upload()
    )
    return applicant_services.application_submit(actor=founder, application_id=app.pk)


def ready_application(
    *,
    program: Program,
    provider: Provider,
    reviewer: User,
    admin: User,
    approver: User,
    declare: bool = True,
) -> Application:
    """Submitted and reviewed: waiting for a decision; with `declare`, the approver has
    declared no conflict of interest too (the step before deciding)."""
    from tests.vouchers.conftest import make_ready

    app = make_ready(
        submitted_application(program=program, provider=provider), reviewer=reviewer, approver=admin
    )
    if declare:
        declare_no_conflict(approver, app)
    return app


def active_voucher(*, app: Application, approver: User, amount_cents: int = AWARD_CENTS) -> Voucher:
    """Approve, (the letter is rendered by whatever Celery is configured), accept: active."""
    voucher_services.application_approve(
        actor=approver, application_id=app.pk, amount_cents=amount_cents
    )
    voucher = Voucher.objects.get(application=app)
    founder = app.organization.memberships.get().user
    return voucher_services.voucher_accept(actor=founder, voucher_id=voucher.pk)


def claim_body(
    *, code: str, reference: str, amount_cents: int, chip: str = "foreign", today: str = ""
) -> bytes:
    """A claim as the API takes it (decimal strings), one usage line, dated today."""
    today = today or timezone.localdate().isoformat()
    amount = f"{Decimal(amount_cents) / 100:.2f}"
    return json.dumps(
        {
            "voucher_code": code,
            "reference": reference,
            "invoice_number": reference,
            "invoice_total": amount,
            "currency": "CNY",
            "service_period_start": today,
            "service_period_end": today,
            "lines": [{"chip_origin": chip, "gpu_hours": "12.5", "amount": amount}],
        }
    ).encode()
