"""Writes outside the services: the admin site, refused requests and file downloads."""

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from accounts.models import User
from audit.models import AuditAction, AuditEvent
from disbursement.services.reconciliation import STATEMENT_COLUMNS, reconcile_statement
from tests.conftest import api_as
from tests.factories import UserFactory
from tests.vouchers.conftest import make_ready
from vouchers import services as voucher_services
from vouchers.models import AwardLetter

pytestmark = pytest.mark.django_db

ADMIN = AuditAction.ADMIN_CHANGE
DENIED = AuditAction.PERMISSION_DENIED


@pytest.fixture
def admin_client(client: Any) -> Any:
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=True)
    client.force_login(staff)
    client.staff = staff
    return client


def _events(action: str, **filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("id"))


# --- The admin site --------------------------------------------------------------------------


def test_admin_change_of_a_user_records_before_and_after(admin_client: Any) -> None:
    person = UserFactory(role=User.Role.APPLICANT)
    url = reverse("admin:accounts_user_change", args=[person.pk])
    response = admin_client.post(
        url,
        {
            "email": person.email,
            "full_name": person.full_name,
            "preferred_language": person.preferred_language,
            "role": User.Role.FINANCE,
            "is_active": "on",
            "is_staff": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content
    (event,) = _events(ADMIN, target_id=str(person.pk), target_type="accounts.user")
    assert event.actor == admin_client.staff
    assert event.data["admin"] == "changed"
    assert event.data["changes"]["role"] == {"before": "applicant", "after": "finance"}
    assert event.data["changes"]["is_staff"] == {"before": False, "after": True}
    assert "password" not in event.data["changes"]


def test_admin_password_change_is_recorded_without_the_password(admin_client: Any) -> None:
    person = UserFactory(role=User.Role.APPLICANT)
    url = reverse("admin:auth_user_password_change", args=[person.pk])
    response = admin_client.post(
        url,
        {"password1": "Another-long-passphrase-42", "password2": "Another-long-passphrase-42"},
    )
    assert response.status_code == 302, response.content
    (event,) = _events(ADMIN, target_id=str(person.pk))
    assert event.data["changes"] == {} and "password" in str(event.data["message"]).lower()
    assert "Another-long" not in str(event.data)


def test_admin_add_and_bulk_delete_record_each_object(admin_client: Any) -> None:
    response = admin_client.post(reverse("admin:auth_group_add"), {"name": "Night shift"})
    assert response.status_code == 302
    night = Group.objects.get(name="Night shift")
    day = Group.objects.create(name="Day shift")
    (added,) = _events(ADMIN, target_type="auth.group")
    assert added.data["admin"] == "added"
    assert added.data["changes"]["name"] == {"before": None, "after": "Night shift"}

    response = admin_client.post(
        reverse("admin:auth_group_changelist"),
        {"action": "delete_selected", "_selected_action": [night.pk, day.pk], "post": "yes"},
    )
    assert response.status_code == 302 and not Group.objects.exists()
    deleted = [e for e in _events(ADMIN, target_type="auth.group") if e.data["admin"] == "deleted"]
    names = sorted(e.data["changes"]["name"]["before"] for e in deleted)
    assert names == ["Day shift", "Night shift"]
    assert all(e.data["changes"]["name"]["after"] is None for e in deleted)


def test_admin_bulk_action_is_recorded(admin_client: Any) -> None:
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    task = PeriodicTask.objects.create(name="seal", task="audit.tasks.x", interval=every)
    response = admin_client.post(
        reverse("admin:django_celery_beat_periodictask_changelist"),
        {"action": "disable_tasks", "_selected_action": [task.pk], "index": 0},
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert not task.enabled
    (event,) = _events(ADMIN, actor=admin_client.staff)
    assert event.data["action"] == "disable_tasks"
    assert event.data["model"] == "django_celery_beat.periodictask"
    assert event.data["objects"] == [str(task.pk)]


def test_admin_inline_change_is_recorded(admin_client: Any, organization: Any) -> None:
    """Organization members are edited inline: the change message says who was added."""
    newcomer = UserFactory(role=User.Role.APPLICANT)
    url = reverse("admin:applicants_organization_change", args=[organization.pk])
    page = admin_client.get(url)
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "parent"}
    membership = organization.memberships.get()
    data.update(
        {
            "memberships-TOTAL_FORMS": "2",
            "memberships-INITIAL_FORMS": "1",
            "memberships-0-id": membership.pk,
            "memberships-0-organization": organization.pk,
            "memberships-0-user": membership.user_id,
            "memberships-0-role": membership.role,
            "memberships-1-organization": organization.pk,
            "memberships-1-user": newcomer.pk,
            "memberships-1-role": membership.role,
            "_save": "Save",
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert organization.memberships.filter(user=newcomer).exists()
    changed = [
        e for e in _events(ADMIN, target_type="applicants.organization") if "admin" in e.data
    ]
    assert changed and "added" in str(changed[-1].data["message"])


# --- Refused requests ------------------------------------------------------------------------


def test_role_refusal_of_a_page_is_recorded(client: Any, applicant: User) -> None:
    client.force_login(applicant)
    response = client.get(reverse("reconciliation:runs"))
    assert response.status_code == 403
    (event,) = _events(DENIED, actor=applicant)
    assert event.stream == f"accounts.user:{applicant.pk}"
    assert event.data["attempted"] == f"GET {reverse('reconciliation:runs')}"
    assert event.data["view"] == "reconciliation:runs" and event.data["status"] == 403


def test_refusal_already_recorded_by_a_selector_is_not_recorded_twice(applicant: User) -> None:
    response = api_as(applicant).get("/api/v1/payouts/")
    assert response.status_code == 403
    assert len(_events(DENIED, actor=applicant)) == 1


def test_refusal_shown_as_a_form_error_is_recorded(client: Any, applicant: User) -> None:
    """A service's NotAllowedError that the page shows as a message is still a refusal."""
    owner = UserFactory(role=User.Role.PROVIDER)
    client.force_login(applicant)
    response = client.post(reverse("accounts:token_revoke", args=[owner.pk * 1000 + 7]))
    assert response.status_code in (200, 302, 403, 404)
    (event,) = _events(DENIED, actor=applicant)
    assert event.data["reason"]


def test_anonymous_refusals_are_not_recorded(api: Any) -> None:
    assert api.get("/api/v1/payouts/").status_code in (401, 403)
    assert _events(DENIED) == []


# --- Downloads of money documents --------------------------------------------------------------


def test_award_letter_downloads_are_recorded(
    client: Any,
    submitted: Any,
    applicant: User,
    reviewer: User,
    approver: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    ready = make_ready(submitted, reviewer=reviewer, approver=approver)
    with django_capture_on_commit_callbacks(execute=True):
        voucher_services.application_approve(
            actor=approver, application_id=ready.pk, amount_cents=150_000_00
        )
    letter = AwardLetter.objects.get(voucher__application=ready, status=AwardLetter.Status.READY)
    client.force_login(applicant)
    response = client.get(reverse("applicants:letter_download", args=[letter.voucher_id, 1]))
    assert response.status_code == 200
    assert (
        api_as(approver).get(f"/api/v1/vouchers/{letter.voucher_id}/letters/1/pdf/").status_code
        == 200
    )
    events = _events(AuditAction.FILE_DOWNLOADED, target_type="vouchers.awardletter")
    assert [e.actor for e in events] == [applicant, approver]
    assert events[0].data == {"file": f"{letter.reference}.pdf", "sha256": letter.sha256}


def test_statement_download_is_recorded(client: Any, finance: User, provider: Any) -> None:
    month = timezone.localdate().replace(day=1)
    raw = (
        ",".join(STATEMENT_COLUMNS) + f"\nCV-NONE-0000,INV-1,REF-1,10.00,CNY,{month.isoformat()}\n"
    ).encode()
    run = reconcile_statement(
        actor=finance,
        provider_id=provider.pk,
        month=month,
        csv_file=SimpleUploadedFile("s.csv", raw, content_type="text/csv"),
    )
    client.force_login(finance)
    response = client.get(reverse("reconciliation:statement_download", args=[run.pk]))
    assert response.status_code == 200
    (event,) = _events(AuditAction.FILE_DOWNLOADED, actor=finance)
    assert event.target_type == "disbursement.reconciliationrun"
    assert event.data["sha256"] == run.statement_sha256
