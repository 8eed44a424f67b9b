"""Sealed checkpoints: deleting a whole stream, or a checkpoint, no longer goes unnoticed."""

import threading
from typing import Any
from unittest.mock import patch

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit import services as audit_services
from audit.models import (
    AuditAction,
    AuditCheckpoint,
    AuditCheckpointHead,
    AuditEvent,
    AuditStream,
)
from audit.selectors import audit_chain_verify
from audit.services import CHECKPOINT_STREAM, audit_checkpoint_seal, audit_record
from audit.tasks import audit_checkpoint_seal_task
from tests.audit.test_chain import _as_attacker, _kinds

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(applicant: Any, reviewer: Any) -> dict[str, str]:
    """Three streams: two users' logins and a stream of its own."""
    for _ in range(3):
        audit_record(actor=applicant, action=AuditAction.USER_LOGIN, target=applicant)
    audit_record(actor=reviewer, action=AuditAction.USER_LOGIN, target=reviewer)
    audit_record(actor=None, action=AuditAction.USER_LOGIN_FAILED, stream="accounts.login_unknown")
    return {
        "applicant": f"accounts.user:{applicant.pk}",
        "reviewer": f"accounts.user:{reviewer.pk}",
    }


def _delete_stream(key: str) -> None:
    _as_attacker("DELETE FROM audit_auditevent WHERE stream = %s", [key])
    _as_attacker("DELETE FROM audit_auditstream WHERE key = %s", [key])


def test_checkpoint_seals_every_stream_head(trail: dict[str, str]) -> None:
    heads = list(AuditStream.objects.filter(last_seq__gt=0))
    first = audit_checkpoint_seal()
    assert first.seq == 1 and first.prev_hash == ""
    assert first.stream_count == len(heads) == 3
    assert first.event_count == sum(h.last_seq for h in heads) == AuditEvent.objects.count() - 1
    assert first.new_heads == first.stream_count  # the first seal stores every head
    sealed = dict(first.heads.values_list("stream", "seq"))
    assert sealed[trail["applicant"]] == 3 and sealed[trail["reviewer"]] == 1
    # Its own event is in the checkpoint stream, sealed by the next checkpoint.
    event = AuditEvent.objects.get(action=AuditAction.AUDIT_CHECKPOINT_SEALED)
    assert event.stream == CHECKPOINT_STREAM and event.data["hash"] == first.hash

    second = audit_checkpoint_seal()
    assert second.seq == 2 and second.prev_hash == first.hash
    assert second.new_heads == 1  # only the checkpoint stream moved since the first seal
    assert audit_chain_verify() == []


def test_only_changed_heads_are_stored_again(trail: dict[str, str], applicant: Any) -> None:
    audit_checkpoint_seal()
    audit_record(actor=applicant, action=AuditAction.USER_LOGOUT, target=applicant)
    second = audit_checkpoint_seal()
    assert set(second.heads.values_list("stream", "seq")) == {
        (trail["applicant"], 4),
        (CHECKPOINT_STREAM, 1),
    }
    assert audit_chain_verify() == []


def test_deleted_whole_stream_is_detected_once_sealed(trail: dict[str, str]) -> None:
    # Without a checkpoint, a stream deleted with its head leaves nothing to compare with.
    _delete_stream(trail["reviewer"])
    assert audit_chain_verify() == []

    audit_checkpoint_seal()
    _delete_stream(trail["applicant"])
    problems = audit_chain_verify()
    assert [(p.stream, p.seq, p.kind) for p in problems] == [
        (trail["applicant"], 3, "sealed_stream_missing")
    ]
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("verify_audit_chain")


def test_sealed_events_deleted_or_changed_are_detected(trail: dict[str, str]) -> None:
    audit_checkpoint_seal()
    # The tail of a stream deleted and its head rolled back: the chain itself looks whole.
    _as_attacker("DELETE FROM audit_auditevent WHERE stream = %s AND seq = 3", [trail["applicant"]])
    second = AuditEvent.objects.get(stream=trail["applicant"], seq=2)
    _as_attacker(
        "UPDATE audit_auditstream SET last_seq = 2, last_hash = %s WHERE key = %s",
        [second.hash, trail["applicant"]],
    )
    assert _kinds() == {"sealed_event_missing"}  # the chain is whole, the sealed event gone
    # A sealed event replaced by a forged one with a recomputed hash.
    reviewer_event = AuditEvent.objects.get(stream=trail["reviewer"], seq=1)
    _as_attacker(
        "UPDATE audit_auditevent SET hash = %s WHERE id = %s", ["f" * 64, reviewer_event.pk]
    )
    _as_attacker(
        "UPDATE audit_auditstream SET last_hash = %s WHERE key = %s", ["f" * 64, trail["reviewer"]]
    )
    assert {"sealed_event_changed", "hash_mismatch"} <= _kinds()


def test_edited_checkpoint_is_detected(trail: dict[str, str]) -> None:
    checkpoint = audit_checkpoint_seal()
    _as_attacker(
        "UPDATE audit_auditcheckpoint SET stream_count = stream_count - 1 WHERE id = %s",
        [checkpoint.pk],
    )
    assert "checkpoint_hash_mismatch" in _kinds()


def test_checkpoint_rewritten_with_a_new_hash_is_detected(trail: dict[str, str]) -> None:
    """An attacker who recomputes the hash breaks the next link and the seal's own event."""
    first = audit_checkpoint_seal()
    audit_checkpoint_seal()
    _delete_stream(trail["applicant"])
    forged = audit_services.checkpoint_hash(
        seq=1,
        sealed_at=first.sealed_at,
        stream_count=first.stream_count - 1,
        event_count=first.event_count - 3,
        new_heads=first.new_heads - 1,
        heads_sha256="0" * 64,
        prev_hash="",
    )
    _as_attacker(
        "UPDATE audit_auditcheckpoint SET stream_count = stream_count - 1, "
        "event_count = event_count - 3, new_heads = new_heads - 1, heads_sha256 = %s, hash = %s "
        "WHERE id = %s",
        ["0" * 64, forged, first.pk],
    )
    _as_attacker("DELETE FROM audit_auditcheckpointhead WHERE stream = %s", [trail["applicant"]])
    assert {"checkpoint_link_mismatch", "checkpoint_hash_mismatch"} <= _kinds()


def test_deleted_checkpoint_is_detected(trail: dict[str, str]) -> None:
    first, middle, last = (audit_checkpoint_seal() for _ in range(3))
    _as_attacker("DELETE FROM audit_auditcheckpointhead WHERE checkpoint_id = %s", [middle.pk])
    _as_attacker("DELETE FROM audit_auditcheckpoint WHERE id = %s", [middle.pk])
    assert {"checkpoint_gap", "checkpoint_link_mismatch", "checkpoint_missing"} <= _kinds()


def test_deleted_latest_checkpoint_is_detected_by_its_event(trail: dict[str, str]) -> None:
    audit_checkpoint_seal()
    last = audit_checkpoint_seal()
    _as_attacker("DELETE FROM audit_auditcheckpointhead WHERE checkpoint_id = %s", [last.pk])
    _as_attacker("DELETE FROM audit_auditcheckpoint WHERE id = %s", [last.pk])
    problems = audit_chain_verify()
    assert [(p.seq, p.kind) for p in problems] == [(2, "checkpoint_missing")]


def test_deleted_sealed_heads_are_detected(trail: dict[str, str]) -> None:
    checkpoint = audit_checkpoint_seal()
    _as_attacker(
        "DELETE FROM audit_auditcheckpointhead WHERE checkpoint_id = %s AND stream = %s",
        [checkpoint.pk, trail["reviewer"]],
    )
    assert _kinds() == {"checkpoint_heads_mismatch"}


@pytest.mark.postgres
def test_database_refuses_update_and_delete_of_checkpoints(trail: dict[str, str]) -> None:
    checkpoint = audit_checkpoint_seal()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(stream_count=0)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditCheckpointHead.objects.filter(checkpoint=checkpoint).delete()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_auditcheckpoint WHERE id = %s", [checkpoint.pk])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sealing_does_not_make_writers_wait(applicant: Any, reviewer: Any) -> None:
    """A seal holds its snapshot open; writers to sealed and new streams go straight through,
    and the seal records the heads as they were when its snapshot was taken."""
    audit_record(actor=applicant, action=AuditAction.USER_LOGIN, target=applicant)
    in_snapshot, release = threading.Event(), threading.Event()
    digest = audit_services.heads_digest
    outcome: list[Any] = []

    def paused_digest(heads: Any) -> Any:
        result = digest(heads)
        in_snapshot.set()
        release.wait(10)
        return result

    def seal() -> None:
        try:
            outcome.append(audit_checkpoint_seal())
        except BaseException as exc:  # noqa: BLE001  (checked below)
            outcome.append(exc)
        finally:
            connection.close()

    with patch.object(audit_services, "heads_digest", paused_digest):
        sealer = threading.Thread(target=seal)
        sealer.start()
        assert in_snapshot.wait(10)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")  # waiting on a lock fails the test
            audit_record(actor=applicant, action=AuditAction.USER_LOGOUT, target=applicant)
            audit_record(actor=reviewer, action=AuditAction.USER_LOGIN, target=reviewer)
        release.set()
        sealer.join(10)
    (checkpoint,) = outcome
    assert isinstance(checkpoint, AuditCheckpoint)
    assert dict(checkpoint.heads.values_list("stream", "seq")) == {
        f"accounts.user:{applicant.pk}": 1
    }
    assert audit_chain_verify() == []
    assert audit_checkpoint_seal().new_heads == 3  # applicant's, reviewer's, the checkpoints'


def test_command_and_task_seal_and_verify(trail: dict[str, str], capsys: Any) -> None:
    call_command("audit_checkpoint")
    assert "checkpoint 1 sealed" in capsys.readouterr().out
    assert audit_checkpoint_seal_task() == 2
    call_command("verify_audit_chain")
    out = capsys.readouterr().out
    assert "audit chain intact" in out and "the latest #2" in out
    schedule = settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert schedule["task"] == "audit.tasks.audit_checkpoint_seal_task"
    assert "reconcile-ledger" in settings.CELERY_BEAT_SCHEDULE
