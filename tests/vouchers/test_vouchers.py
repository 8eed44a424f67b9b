"""Accepting the award activates the voucher; programs are data that admins edit safely."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from core.exceptions import ConflictError, DomainError, NotAllowedError
from tests.conftest import api_as
from tests.factories import ProviderFactory, UserFactory
from vouchers import services
from vouchers.models import AwardLetter, Program, Voucher

pytestmark = pytest.mark.django_db


def test_accepting_activates_the_voucher_once(approved, applicant):
    voucher = approved.voucher
    result = services.voucher_accept(actor=applicant, voucher_id=voucher.pk)
    assert result.status == Voucher.Status.ACTIVE and result.accepted_by == applicant
    again = services.voucher_accept(actor=applicant, voucher_id=voucher.pk)
    assert again.activated_at == result.activated_at
    assert AuditEvent.objects.filter(action=AuditAction.VOUCHER_ACTIVATED).count() == 1


def test_accepting_needs_the_letter(
    ready, approver, applicant, settings, django_capture_on_commit_callbacks
):
    settings.LETTER_CJK_FONT_GLOBS = ["/nonexistent/*.ttc"]
    with django_capture_on_commit_callbacks(execute=True):
        services.application_approve(
            actor=approver, application_id=ready.pk, amount_cents=150_000_00
        )
    voucher = Voucher.objects.get(application=ready)
    with pytest.raises(DomainError) as exc:
        services.voucher_accept(actor=applicant, voucher_id=voucher.pk)
    assert exc.value.code == "letter_not_ready"
    assert AwardLetter.objects.get(voucher=voucher).status == "failed"


def test_only_members_accept(approved, other_applicant, approver):
    for user in (other_applicant, approver):
        with pytest.raises(NotAllowedError):
            services.voucher_accept(actor=user, voucher_id=approved.voucher.pk)


def test_expired_award_cannot_be_accepted(approved, applicant):
    Voucher.objects.filter(pk=approved.voucher.pk).update(
        valid_from=timezone.now() - timedelta(days=400),
        valid_until=timezone.now() - timedelta(days=1),
    )
    with pytest.raises(DomainError) as exc:
        services.voucher_accept(actor=applicant, voucher_id=approved.voucher.pk)
    assert exc.value.code == "voucher_expired"


def test_revoked_voucher_cannot_be_accepted(approved, applicant):
    Voucher.objects.filter(pk=approved.voucher.pk).update(status="revoked")
    with pytest.raises(ConflictError):
        services.voucher_accept(actor=applicant, voucher_id=approved.voucher.pk)


def test_voucher_pages_and_api(client, approved, applicant, other_applicant):
    voucher = approved.voucher
    client.force_login(applicant)
    page = client.get(reverse("applicants:voucher_detail", args=[voucher.pk])).content.decode()
    assert voucher.code in page and 'data-testid="download-letter"' in page
    response = client.post(reverse("applicants:voucher_accept", args=[voucher.pk]))
    assert response.status_code == 302
    voucher.refresh_from_db()
    assert voucher.status == "active"
    detail = client.get(
        reverse("applicants:application_detail", args=[approved.pk])
    ).content.decode()
    assert 'data-testid="approved"' in detail
    assert api_as(applicant).get("/api/v1/vouchers/").json()["count"] == 1
    assert api_as(other_applicant).get("/api/v1/vouchers/").json()["count"] == 0
    assert api_as(other_applicant).get(f"/api/v1/vouchers/{voucher.pk}/").status_code == 404
    client.force_login(other_applicant)
    assert client.get(reverse("applicants:voucher_detail", args=[voucher.pk])).status_code == 404


def test_accept_through_the_api(approved, applicant):
    response = api_as(applicant).post(f"/api/v1/vouchers/{approved.voucher.pk}/accept/")
    assert response.status_code == 200 and response.json()["status"] == "active"
    assert response.json()["cap"] == "150000.00" and response.json()["spent"] == "0.00"


# --- programs as data -------------------------------------------------------------------------

VALID = dict(
    code="GZ-2027",
    slug="guangzhou-2027",
    name="Guangzhou 2027",
    region="CN-GD",
    currency="CNY",
    budget_cents=50_000_000_00,
    award_floor_cents=1_000_000_00,
    award_ceiling_cents=2_000_000_00,
    rate_standard_bps=2000,
    rate_domestic_bps=3000,
    allowed_regions=["CN-GD"],
)


@pytest.fixture
def admin(db):
    return UserFactory(role="admin")


def test_admin_creates_a_program(admin):
    now = timezone.now()
    program = services.program_create(
        actor=admin,
        opens_at=now,
        closes_at=now + timedelta(days=60),
        providers=[ProviderFactory()],
        **VALID,
    )
    assert program.approved_providers.count() == 1
    assert AuditEvent.objects.filter(
        action=AuditAction.PROGRAM_CREATED, target_id=str(program.pk)
    ).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"award_floor_cents": 3_000_000_00}, "award_ceiling_cents"),
        ({"rate_standard_bps": 10_001}, "rate_standard_bps"),
        ({"rate_domestic_bps": -1}, "rate_domestic_bps"),
        ({"closes_at": timezone.now() - timedelta(days=1)}, "closes_at"),
        ({"allowed_regions": ["Atlantis"]}, "allowed_regions"),
        ({"currency": "yuan"}, "currency"),
    ],
)
def test_program_validation(admin, change, field):
    now = timezone.now()
    values = {**VALID, "opens_at": now, "closes_at": now + timedelta(days=60), **change}
    with pytest.raises(DomainError) as exc:
        services.program_create(actor=admin, **values)
    assert field in exc.value.fields
    assert not Program.objects.filter(code="GZ-2027").exists()


def test_only_admins_edit_programs_and_committed_is_not_editable(program, approver, admin):
    with pytest.raises(NotAllowedError):
        services.program_update(actor=approver, program_id=program.pk, budget_cents=1)
    with pytest.raises(DomainError) as exc:
        services.program_update(actor=admin, program_id=program.pk, committed_cents=0)
    assert exc.value.code == "read_only_field"


def test_budget_cannot_drop_below_what_is_committed(approved, admin, program):
    with pytest.raises(DomainError) as exc:
        services.program_update(actor=admin, program_id=program.pk, budget_cents=100_00)
    assert "budget_cents" in exc.value.fields


def test_rubric_criteria_are_data(admin, program):
    criterion = services.criterion_save(
        actor=admin,
        program_id=program.pk,
        code="ethics",
        name="Responsible AI",
        weight=1,
        max_score=5,
    )
    assert criterion.pk and program.criteria.count() == 4
    with pytest.raises(DomainError):
        services.criterion_save(actor=admin, program_id=program.pk, code="bad", name="x", weight=0)


def test_programs_api_admin_only(api, admin, approver, program):
    from tests.conftest import api_as

    now = timezone.now()
    payload = {
        "code": "GZ-2027",
        "slug": "guangzhou-2027",
        "name": "Guangzhou 2027",
        "region": "CN-GD",
        "currency": "CNY",
        "budget": "50000000.00",
        "award_floor": "1000000.00",
        "award_ceiling": "2000000.00",
        "rate_standard_bps": 2000,
        "rate_domestic_bps": 3000,
        "opens_at": now.isoformat(),
        "closes_at": (now + timedelta(days=60)).isoformat(),
        "is_published": True,
    }
    assert api.post("/api/v1/programs/", payload, format="json").status_code == 401
    assert api_as(approver).post("/api/v1/programs/", payload, format="json").status_code == 403
    created = api_as(admin).post("/api/v1/programs/", payload, format="json")
    assert created.status_code == 201, created.content
    bad = api_as(admin).patch(
        f"/api/v1/programs/{created.json()['id']}/", {"award_floor": "3000000.00"}, format="json"
    )
    assert bad.status_code == 400 and "award_ceiling_cents" in bad.json()["error"]["fields"]
    sneaky = api_as(admin).patch(
        f"/api/v1/programs/{program.pk}/", {"committed": "0"}, format="json"
    )
    assert sneaky.status_code == 400 and sneaky.json()["error"]["code"] == "unknown_field"
    criterion = api_as(admin).post(
        f"/api/v1/programs/{program.pk}/criteria/",
        {"code": "ethics", "name": "Responsible AI", "weight": 1},
        format="json",
    )
    assert criterion.status_code == 200
    assert len(api.get(f"/api/v1/programs/{program.pk}/").json()["criteria"]) == 4
