"""Writing audit events. Call audit_record() inside the transaction of the change it records."""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from audit.models import AuditAction, AuditEvent, AuditStream
from core.request_context import current_request_info


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
    head, _ = AuditStream.objects.select_for_update().get_or_create(key=stream)
    seq = head.last_seq + 1
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
        prev_hash=head.last_hash,
    )
    event = AuditEvent.objects.create(
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
        prev_hash=head.last_hash,
        hash=digest,
    )
    head.last_seq = seq
    head.last_hash = digest
    head.save(update_fields=["last_seq", "last_hash", "updated_at"])
    return event


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """{"field": {"before": x, "after": y}} for the fields whose value changed."""
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
