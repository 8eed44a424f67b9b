"""The provider registry: providers, staff and affiliations, through the services and the admin."""

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.services import api_token_create
from audit.models import AuditAction, AuditEvent
from core.exceptions import ConflictError, DomainError, NotAllowedError
from disbursement.models import Claim, Provider, ProviderAffiliation, ProviderStaff
from disbursement.services import providers as services
from disbursement.services.claims import claim_submit
from tests.disbursement.conftest import claim_input
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user() -> Any:
    return UserFactory(role="admin", is_staff=True, is_superuser=True)


VALUES = {
    "legal_name": "Hangzhou West Lake Compute Co., Ltd.",
    "short_name": "West Lake Compute",
    "registration_number": "9133-0100 mahd272h7",
    "region": "CN-ZJ",
    "chip_origins": ["domestic", "domestic", "foreign"],
    "data_centres": "  Yuhang DC-2  ",
}


def test_admin_registers_a_provider_with_clean_values(admin_user: Any) -> None:
    provider = services.provider_create(actor=admin_user, **VALUES)
    assert provider.registration_number == "91330100MAHD272H7"
    assert provider.chip_origins == ["domestic", "foreign"]
    assert provider.data_centres == "Yuhang DC-2"
    event = AuditEvent.objects.get(action=AuditAction.PROVIDER_CREATED)
    assert event.data["after"]["short_name"] == "West Lake Compute"


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"registration_number": "12"}, "registration_number"),
        ({"registration_number": "9133 0100 ☃"}, "registration_number"),
        ({"chip_origins": ["quantum"]}, "chip_origins"),
        ({"short_name": "   "}, "required"),
        ({"is_deleted": True}, "unknown_field"),
    ],
)
def test_bad_provider_values_are_refused(admin_user: Any, override: Any, code: str) -> None:
    with pytest.raises(DomainError) as exc:
        services.provider_create(actor=admin_user, **{**VALUES, **override})
    assert exc.value.code == code
    assert not Provider.objects.filter(short_name="West Lake Compute").exists()


def test_a_registration_number_is_registered_once(admin_user: Any, provider: Any) -> None:
    with pytest.raises(ConflictError) as exc:
        services.provider_create(
            actor=admin_user, **{**VALUES, "registration_number": provider.registration_number}
        )
    assert exc.value.code == "registration_number_taken"


def test_update_records_only_what_changed(admin_user: Any, provider: Any) -> None:
    services.provider_update(
        actor=admin_user, provider_id=provider.pk, short_name="Renamed DC", is_active=True
    )
    event = AuditEvent.objects.get(action=AuditAction.PROVIDER_UPDATED)
    assert event.data["after"] == {"short_name": "Renamed DC"}
    services.provider_update(actor=admin_user, provider_id=provider.pk, short_name="Renamed DC")
    assert AuditEvent.objects.filter(action=AuditAction.PROVIDER_UPDATED).count() == 1


@pytest.mark.parametrize("role", ["applicant", "reviewer", "approver", "finance", "provider"])
def test_only_administrators_keep_the_registry(role: str, provider: Any) -> None:
    user = UserFactory(role=role)
    with pytest.raises(NotAllowedError):
        services.provider_create(actor=user, **VALUES)
    with pytest.raises(NotAllowedError):
        services.provider_update(actor=user, provider_id=provider.pk, short_name="x")
    with pytest.raises(NotAllowedError):
        services.provider_staff_add(actor=user, provider_id=provider.pk, user_id=user.pk)


def test_staff_rules(admin_user: Any, provider: Any) -> None:
    from tests.factories import ProviderFactory

    staff_user = UserFactory(role="provider")
    applicant = UserFactory(role="applicant")
    with pytest.raises(DomainError) as exc:
        services.provider_staff_add(actor=admin_user, provider_id=provider.pk, user_id=applicant.pk)
    assert exc.value.code == "not_a_provider_account"

    first = services.provider_staff_add(
        actor=admin_user, provider_id=provider.pk, user_id=staff_user.pk
    )
    again = services.provider_staff_add(
        actor=admin_user, provider_id=provider.pk, user_id=staff_user.pk
    )
    assert first.pk == again.pk
    with pytest.raises(ConflictError) as exc:
        services.provider_staff_add(
            actor=admin_user, provider_id=ProviderFactory().pk, user_id=staff_user.pk
        )
    assert exc.value.code == "already_staff"
    assert AuditEvent.objects.filter(action=AuditAction.PROVIDER_STAFF_ADDED).count() == 1


def test_removing_a_staff_member_stops_their_token(
    admin_user: Any, provider: Any, active_voucher: Any
) -> None:
    staff_user = UserFactory(role="provider")
    services.provider_staff_add(actor=admin_user, provider_id=provider.pk, user_id=staff_user.pk)
    _token, raw = api_token_create(user=staff_user, name="billing system")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert client.get("/api/v1/claims/").status_code == 200

    services.provider_staff_remove(actor=admin_user, provider_id=provider.pk, user_id=staff_user.pk)
    assert not ProviderStaff.objects.filter(user=staff_user).exists()
    assert client.get("/api/v1/claims/").status_code in (401, 403)
    assert AuditEvent.objects.filter(action=AuditAction.PROVIDER_STAFF_REMOVED).count() == 1


def test_a_recorded_affiliation_refuses_the_providers_claims(
    admin_user: Any, provider_staff: Any, active_voucher: Any
) -> None:
    provider = provider_staff.provider_staff.provider
    affiliation = services.provider_affiliation_record(
        actor=admin_user,
        provider_id=provider.pk,
        organization_id=active_voucher.organization_id,
        kind="ownership",
        note="The provider holds 30% of the startup.",
    )
    twice = services.provider_affiliation_record(
        actor=admin_user,
        provider_id=provider.pk,
        organization_id=active_voucher.organization_id,
        kind="ownership",
    )
    assert twice.pk == affiliation.pk
    claim = claim_submit(actor=provider_staff, provider=provider, data=claim_input(active_voucher))
    assert claim.claim.status == Claim.Status.REJECTED
    assert claim.claim.rejection_code == "provider_affiliated"

    with pytest.raises(DomainError) as exc:
        services.provider_affiliation_remove(
            actor=admin_user, affiliation_id=affiliation.pk, reason="no"
        )
    assert exc.value.code == "reason_required"
    services.provider_affiliation_remove(
        actor=admin_user, affiliation_id=affiliation.pk, reason="The shareholding was sold in May."
    )
    assert not ProviderAffiliation.objects.exists()
    again = claim_submit(actor=provider_staff, provider=provider, data=claim_input(active_voucher))
    assert again.claim.status == Claim.Status.ACCEPTED


def test_admin_site_saves_through_the_services(admin_user: Any, provider: Any) -> None:
    staff_user = UserFactory(role="provider")
    client = Client()
    client.force_login(admin_user)
    url = f"/admin/disbursement/provider/{provider.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    data = {
        "legal_name": provider.legal_name,
        "short_name": "Changed in admin",
        "registration_number": provider.registration_number,
        "region": provider.region,
        "chip_origins": ["domestic"],
        "data_centres": "",
        "is_active": "on",
        "staff-TOTAL_FORMS": "1",
        "staff-INITIAL_FORMS": "0",
        "staff-0-user": str(staff_user.pk),
        "affiliations-TOTAL_FORMS": "0",
        "affiliations-INITIAL_FORMS": "0",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    provider.refresh_from_db()
    assert provider.short_name == "Changed in admin"
    assert ProviderStaff.objects.filter(provider=provider, user=staff_user).exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {AuditAction.PROVIDER_UPDATED, AuditAction.PROVIDER_STAFF_ADDED} <= actions


def test_money_records_are_read_only_in_the_admin(
    admin_user: Any, provider_staff: Any, active_voucher: Any
) -> None:
    claim = claim_submit(
        actor=provider_staff,
        provider=provider_staff.provider_staff.provider,
        data=claim_input(active_voucher),
    ).claim
    client = Client()
    client.force_login(admin_user)
    assert client.get("/admin/disbursement/claim/").status_code == 200
    assert client.get("/admin/disbursement/ledgerentry/").status_code == 200
    response = client.post(f"/admin/disbursement/claim/{claim.pk}/change/", {"status": "reversed"})
    assert response.status_code == 403
    claim.refresh_from_db()
    assert claim.status == Claim.Status.ACCEPTED
