"""Writing audit events. Call audit_record() inside the transaction of the change it records."""

import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from audit.models import AuditAction, AuditEvent, AuditStream
from core.request_context import current_request_info
from core.sql import insert


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


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """{"field": {"before": x, "after": y}} for the fields whose value changed."""
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
