"""Writing audit events. Call audit_record() inside the transaction of the change it records."""

import hashlib
import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from typing import Any, NoReturn

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import (
    AuditAction,
    AuditCheckpoint,
    AuditCheckpointHead,
    AuditEvent,
    AuditStream,
)
from core.exceptions import ConflictError
from core.request_context import current_request_info
from core.sql import insert

logger = logging.getLogger(__name__)
CHECKPOINT_STREAM = "audit.checkpoints"


def stream_key_for(target: models.Model) -> str:
    return f"{target._meta.label_lower}:{target.pk}"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(
    *,
    stream: str,
    seq: int,
    occurred_at: datetime,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: str,
    data: Any,
    ip: str | None,
    prev_hash: str,
) -> str:
    """The SHA-256 that chains an event to its predecessor. verify_audit_chain recomputes it."""
    payload = canonical_json(
        [
            stream,
            seq,
            occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            actor_id,
            action,
            target_type,
            target_id,
            data,
            ip or "",
            prev_hash,
        ]
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _json_safe(value: Any) -> Any:
    """Round-trip through canonical JSON so the stored data hashes the same when read back."""
    return json.loads(canonical_json(value))


@transaction.atomic(savepoint=False)
def audit_record(
    *,
    actor: Any,
    action: AuditAction,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
    stream: str | None = None,
    target_label: str | None = None,
) -> AuditEvent:
    """Append one event to its stream's chain, in the caller's transaction.

    The stream is the target's ("applicants.application:42") unless given. Only that stream's
    head row is locked, so unrelated writes proceed in parallel.
    """
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    if stream is None:
        if target is not None:
            stream = stream_key_for(target)
        elif actor_obj is not None:
            stream = f"accounts.user:{actor_obj.pk}"
        else:
            stream = "anonymous"
    info = current_request_info()
    # Serialise appends to this one chain: two writers must not both take seq N+1.
    head_id, last_seq, last_hash = _lock_head(stream)
    seq = last_seq + 1
    occurred_at = timezone.now()
    clean = _json_safe(data or {})
    target_type = target._meta.label_lower if target is not None else ""
    target_id = str(target.pk) if target is not None else ""
    digest = event_hash(
        stream=stream,
        seq=seq,
        occurred_at=occurred_at,
        actor_id=actor_obj.pk if actor_obj else None,
        action=str(action),
        target_type=target_type,
        target_id=target_id,
        data=clean,
        ip=info.ip if info else None,
        prev_hash=last_hash,
    )
    if action == AuditAction.PERMISSION_DENIED and info is not None:
        info.denials_recorded.append(seq)  # the middleware does not record this refusal again
    event = insert(
        AuditEvent(
            stream=stream,
            seq=seq,
            occurred_at=occurred_at,
            actor=actor_obj,
            actor_label=(actor_obj.email if actor_obj else "")[:254],
            action=action,
            target_type=target_type,
            target_id=target_id,
            target_label=(target_label if target_label is not None else str(target or ""))[:200],
            data=clean,
            ip=info.ip if info else None,
            user_agent=info.user_agent if info else "",
            request_id=info.request_id if info else "",
            prev_hash=last_hash,
            hash=digest,
        )
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(connection.vendor)["advance"],
            [seq, digest, connection.ops.adapt_datetimefield_value(occurred_at), head_id],
        )
    return event


def _lock_head(stream: str) -> tuple[int, int, str]:
    """Lock the stream's head row (creating it on the stream's first event): id, seq, hash."""
    with connection.cursor() as cursor:
        cursor.execute(_sql(connection.vendor)["lock"], [stream])
        row = cursor.fetchone()
    if row is not None:
        return row[0], row[1], row[2]
    head, _ = AuditStream.objects.select_for_update().get_or_create(key=stream)
    return head.pk, head.last_seq, head.last_hash


@cache
def _sql(vendor: str) -> dict[str, str]:
    """The head's two statements, written once: every audited write runs them (as
    core/sql.py explains, compiling them through the ORM each time costs more than running
    them). SQLite has no row locks; its transactions are IMMEDIATE, one writer at a time."""
    quote = connection.ops.quote_name
    table = quote(AuditStream._meta.db_table)
    key, seq, last_hash, updated = (
        quote(c) for c in ("key", "last_seq", "last_hash", "updated_at")
    )
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return {
        "lock": f"SELECT id, {seq}, {last_hash} FROM {table} WHERE {key} = %s{lock}",  # noqa: S608
        "advance": f"UPDATE {table} SET {seq} = %s, {last_hash} = %s, {updated} = %s "  # noqa: S608
        "WHERE id = %s",
    }


def audit_refuse(
    *,
    viewer: Any,
    attempted: str,
    target: models.Model | None,
    reveal: bool,
    not_found: str = "No such object.",
    code: str = "permission_denied",
    message: str | None = None,
) -> NoReturn:
    """Record a refused attempt in the viewer's stream, then refuse: NotAllowedError (403) if
    the viewer may see `target`, else Http404 (what they may not see does not exist for them).
    The one place every app's object-level refusal goes through."""
    from django.http import Http404

    from core.exceptions import NotAllowedError

    data: dict[str, Any] = {"attempted": attempted}
    if target is not None:
        data["target"] = f"{target._meta.label_lower}:{target.pk}"
    audit_record(
        actor=viewer,
        action=AuditAction.PERMISSION_DENIED,
        target=target,
        stream=f"accounts.user:{viewer.pk}" if viewer.is_authenticated else "anonymous",
        data=data,
    )
    if reveal:
        raise NotAllowedError(message or _("You are not allowed to do this."), code=code)
    raise Http404(not_found)


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """{"field": {"before": x, "after": y}} for the fields whose value changed."""
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def audit_download(
    *, actor: Any, target: models.Model, filename: str, data: dict[str, Any] | None = None
) -> AuditEvent:
    """Record that `actor` downloaded a file made from `target` (a letter, a statement)."""
    return audit_record(
        actor=actor,
        action=AuditAction.FILE_DOWNLOADED,
        target=target,
        data={"file": filename, **(data or {})},
    )


# --- Sealed checkpoints -----------------------------------------------------------------------


def heads_digest(heads: Iterable[tuple[str, int, str]]) -> tuple[str, int, int]:
    """SHA-256 over (key, seq, hash) heads given in key order; with the stream and event counts."""
    digest = hashlib.sha256()
    streams = events = 0
    for key, seq, last_hash in heads:
        digest.update((canonical_json([key, seq, last_hash]) + "\n").encode())
        streams += 1
        events += seq
    return digest.hexdigest(), streams, events


def checkpoint_hash(
    *,
    seq: int,
    sealed_at: datetime,
    stream_count: int,
    event_count: int,
    new_heads: int,
    heads_sha256: str,
    prev_hash: str,
) -> str:
    """The SHA-256 that chains a checkpoint to its predecessor. verify_audit_chain recomputes it."""
    payload = canonical_json(
        [
            seq,
            sealed_at.astimezone(UTC).isoformat(timespec="microseconds"),
            stream_count,
            event_count,
            new_heads,
            heads_sha256,
            prev_hash,
        ]
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def by_key(column: str) -> str:
    """ORDER BY a text column in code-point order on every backend (the digest's order)."""
    return f'{column} COLLATE "C"' if connection.vendor == "postgresql" else column


@transaction.atomic(durable=True)
def audit_checkpoint_seal(*, actor: Any = None) -> AuditCheckpoint:
    """Seal the current head of every stream into a new checkpoint chained to the last one.

    Reads the heads in one REPEATABLE READ snapshot and takes no lock a writer waits for:
    streams that advance meanwhile are sealed as they were when the snapshot was taken, and by
    the next checkpoint. Only the heads that changed since the last seal are stored. Two seals at
    once: the second raises ConflictError (nothing to do, one checkpoint was just sealed).
    """
    if connection.vendor == "postgresql" and not connection.savepoint_ids:
        # The snapshot is taken at the first query of the transaction; tests nest us in theirs.
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    # A concurrent seal waits here for the first one, then fails on the unique seq below.
    previous = AuditCheckpoint.objects.select_for_update().order_by("-seq").first()
    stream_table = connection.ops.quote_name(AuditStream._meta.db_table)
    head_table = connection.ops.quote_name(AuditCheckpointHead._meta.db_table)
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            f"SELECT key, last_seq, last_hash FROM {stream_table} "  # noqa: S608
            f"WHERE last_seq > 0 ORDER BY {by_key('key')}"
        )
        heads_sha256, stream_count, event_count = heads_digest(_fetch_all(cursor))
    unsealed = (
        f"FROM {stream_table} s WHERE s.last_seq > 0 AND NOT EXISTS "  # noqa: S608
        f"(SELECT 1 FROM {head_table} h WHERE h.stream = s.key AND h.seq = s.last_seq)"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) {unsealed}")  # noqa: S608
        new_heads = int(cursor.fetchone()[0])
    sealed_at = timezone.now()
    seq = previous.seq + 1 if previous else 1
    prev_hash = previous.hash if previous else ""
    checkpoint = AuditCheckpoint(
        seq=seq,
        sealed_at=sealed_at,
        stream_count=stream_count,
        event_count=event_count,
        new_heads=new_heads,
        heads_sha256=heads_sha256,
        prev_hash=prev_hash,
        hash=checkpoint_hash(
            seq=seq,
            sealed_at=sealed_at,
            stream_count=stream_count,
            event_count=event_count,
            new_heads=new_heads,
            heads_sha256=heads_sha256,
            prev_hash=prev_hash,
        ),
    )
    try:
        with transaction.atomic():
            checkpoint.save(force_insert=True)
    except IntegrityError as exc:
        raise ConflictError(
            _("Another checkpoint was sealed at the same time."), code="checkpoint_race"
        ) from exc
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {head_table} (checkpoint_id, stream, seq, hash) "  # noqa: S608
            f"SELECT %s, s.key, s.last_seq, s.last_hash {unsealed}",
            [checkpoint.pk],
        )
    audit_record(
        actor=actor,
        action=AuditAction.AUDIT_CHECKPOINT_SEALED,
        target=checkpoint,
        stream=CHECKPOINT_STREAM,
        data={
            "checkpoint": seq,
            "hash": checkpoint.hash,
            "streams": stream_count,
            "events": event_count,
            "new_heads": new_heads,
        },
    )
    # The log line is a copy outside the database: an attacker who truncates the checkpoint
    # chain's tail (and everything after it) cannot take it back.
    logger.info(
        "audit checkpoint %s sealed: %s streams, %s events, %s new heads, hash %s",
        seq,
        stream_count,
        event_count,
        new_heads,
        checkpoint.hash,
    )
    return checkpoint


def _fetch_all(cursor: Any, size: int = 2000) -> Iterable[tuple[str, int, str]]:
    while rows := cursor.fetchmany(size):
        yield from rows
