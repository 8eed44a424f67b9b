"""The Django admin: every list and change page loads; applications and history are read-only."""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import User
from applicants.models import Application
from audit.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_every_admin_changelist_loads(staff_client, submitted):
    for model in admin.site._registry:
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert staff_client.get(url).status_code == 200, url
        assert staff_client.get(url, {"q": "Legal"}).status_code == 200, url


def test_application_admin_is_read_only(staff_client, submitted):
    url = reverse("admin:applicants_application_change", args=[submitted.pk])
    page = staff_client.get(url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    response = staff_client.post(url, {"title": "changed by staff", "status": "approved"})
    assert response.status_code == 403
    submitted.refresh_from_db()
    assert submitted.title == "Legal LLM" and submitted.status == "in_review"
    assert staff_client.get(reverse("admin:applicants_application_add")).status_code == 403


def test_audit_events_cannot_be_changed_or_deleted_in_admin(staff_client, submitted):
    event = AuditEvent.objects.first()
    url = reverse("admin:audit_auditevent_change", args=[event.pk])
    assert staff_client.post(url, {"action": "user.login"}).status_code == 403
    assert (
        staff_client.post(
            reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert AuditEvent.objects.filter(pk=event.pk, action=event.action).exists()


def test_application_list_filters(staff_client, submitted):
    url = reverse("admin:applicants_application_changelist")
    page = staff_client.get(url, {"status__exact": "in_review"})
    assert submitted.reference.encode() in page.content
    assert Application.objects.count() == 1


def test_program_admin_validates(staff_client, program):
    url = reverse("admin:vouchers_program_change", args=[program.pk])
    page = staff_client.get(url)
    assert page.status_code == 200


def test_program_admin_saves_through_the_service(staff_client, program):
    from audit.models import AuditAction

    url = reverse("admin:vouchers_program_change", args=[program.pk])
    page = staff_client.get(url)
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data.update(
        {
            "budget_cents": "20000000.00",
            "award_floor_cents": "140000.00",
            "award_ceiling_cents": "280000.00",
            "opens_at_0": "2026-01-01",
            "opens_at_1": "00:00:00",
            "closes_at_0": "2027-12-31",
            "closes_at_1": "00:00:00",
            "allowed_regions": ["CN-SH"],
            "approved_providers": [p.pk for p in program.approved_providers.all()],
            "max_annual_revenue_cents": "",
            "max_company_age_years": "",
            "max_headcount": "",
            "criteria-TOTAL_FORMS": "0",
            "criteria-INITIAL_FORMS": "0",
        }
    )
    data = {k: v for k, v in data.items() if v is not None}
    response = staff_client.post(url, data)
    assert response.status_code == 302, (
        response.context["adminform"].form.errors if response.context else ""
    )
    program.refresh_from_db()
    assert program.budget_cents == 20_000_000_00
    assert AuditEvent.objects.filter(
        action=AuditAction.PROGRAM_UPDATED, target_id=str(program.pk)
    ).exists()
