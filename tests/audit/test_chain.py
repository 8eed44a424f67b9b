import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from applicants import services
from audit.models import AuditAction, AuditEvent, AuditStream
from audit.selectors import audit_chain_verify
from audit.services import audit_record
from tests.concurrency import run_concurrently
from tests.conftest import declare_no_conflict

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(applicant, reviewer, submitted):
    declare_no_conflict(reviewer, submitted)
    services.application_return(actor=reviewer, application_id=submitted.pk, message="More detail")
    services.application_update(
        actor=applicant, application_id=submitted.pk, values={"title": "v2"}
    )
    services.application_submit(actor=applicant, application_id=submitted.pk)
    return submitted


def test_chain_is_intact_after_real_history(history, capsys):
    assert audit_chain_verify() == []
    call_command("verify_audit_chain")
    assert "audit chain intact" in capsys.readouterr().out
    events = AuditEvent.objects.filter(stream=f"applicants.application:{history.pk}").order_by(
        "seq"
    )
    assert [e.seq for e in events] == list(range(1, events.count() + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))


def test_events_carry_actor_ip_and_before_after(client, applicant, draft):
    client.force_login(applicant)
    client.post(
        f"/portal/applications/{draft.pk}/edit/project/",
        {"title": "New title", "summary": "", "description": ""},
        REMOTE_ADDR="203.0.113.9",
        HTTP_USER_AGENT="pytest-browser",
    )
    event = AuditEvent.objects.filter(action=AuditAction.APPLICATION_UPDATED).get()
    assert event.actor == applicant and event.actor_label == applicant.email
    assert event.ip == "203.0.113.9" and event.user_agent == "pytest-browser"
    assert event.data["title"] == {"before": "", "after": "New title"}


@pytest.mark.postgres
def test_database_refuses_update_and_delete_of_events(history):
    event = AuditEvent.objects.first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="user.login")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_auditevent SET data = '{}' WHERE id = %s", [event.pk])


def _as_attacker(sql: str, params: list) -> None:
    """A database superuser switches triggers off for the session, edits history, switches back."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


def _kinds() -> set[str]:
    return {p.kind for p in audit_chain_verify()}


def test_edited_event_is_detected(history):
    victim = AuditEvent.objects.filter(action=AuditAction.APPLICATION_RETURNED).get()
    _as_attacker(
        "UPDATE audit_auditevent SET data = %s WHERE id = %s", ['{"message": "nothing"}', victim.pk]
    )
    assert "hash_mismatch" in _kinds()
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("verify_audit_chain")


def test_deleted_event_is_detected(history):
    victim = AuditEvent.objects.filter(action=AuditAction.APPLICATION_RETURNED).get()
    _as_attacker("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    assert {"gap", "link_mismatch"} <= _kinds()


def test_deleted_last_event_is_detected_by_the_stream_head(history):
    last = (
        AuditEvent.objects.filter(stream=f"applicants.application:{history.pk}")
        .order_by("-seq")
        .first()
    )
    _as_attacker("DELETE FROM audit_auditevent WHERE id = %s", [last.pk])
    assert "head_mismatch" in _kinds()


def test_inserted_event_is_detected(history):
    first = (
        AuditEvent.objects.filter(stream=f"applicants.application:{history.pk}")
        .order_by("seq")
        .first()
    )
    _as_attacker(
        "INSERT INTO audit_auditevent (stream, seq, occurred_at, actor_label, action, target_type, target_id, "
        "target_label, data, user_agent, request_id, prev_hash, hash) "
        "SELECT stream, 999, occurred_at, actor_label, 'application.withdrawn', target_type, target_id, "
        "target_label, data, user_agent, request_id, hash, 'forged' FROM audit_auditevent WHERE id = %s",
        [first.pk],
    )
    assert _kinds() & {"gap", "hash_mismatch", "head_mismatch"}


def test_reordered_events_are_detected(history):
    events = list(
        AuditEvent.objects.filter(stream=f"applicants.application:{history.pk}").order_by("seq")[:2]
    )
    a, b = events
    _as_attacker("UPDATE audit_auditevent SET seq = 100000 + seq WHERE id = %s", [a.pk])
    _as_attacker("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [a.seq, b.pk])
    _as_attacker("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [b.seq, a.pk])
    assert _kinds() & {"link_mismatch", "hash_mismatch"}


def test_unrelated_streams_do_not_share_a_lock(applicant):
    """Two targets, two stream heads: appending to one never touches the other's row."""
    audit_record(actor=applicant, action=AuditAction.USER_LOGIN, target=applicant)
    audit_record(actor=None, action=AuditAction.USER_LOGIN_FAILED, stream="accounts.login_unknown")
    assert set(AuditStream.objects.values_list("key", flat=True)) >= {
        f"accounts.user:{applicant.pk}",
        "accounts.login_unknown",
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_to_one_stream_stay_a_chain(applicant):
    results = run_concurrently(
        lambda: audit_record(actor=applicant, action=AuditAction.USER_LOGIN, target=applicant),
        threads=10,
    )
    assert not [r for r in results if isinstance(r, BaseException)]
    assert AuditEvent.objects.filter(stream=f"accounts.user:{applicant.pk}").count() == 10
    assert audit_chain_verify() == []
