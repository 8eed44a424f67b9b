"""Reading and verifying the audit trail."""

from collections.abc import Iterator
from dataclasses import dataclass

from audit.models import AuditEvent, AuditStream
from audit.services import event_hash


@dataclass(frozen=True)
class ChainProblem:
    stream: str
    seq: int | None
    kind: str  # gap, hash_mismatch, link_mismatch, head_mismatch, missing_head
    detail: str


def audit_chain_verify(*, chunk_size: int = 2000) -> list[ChainProblem]:
    """Recompute every stream's chain; return what does not add up (empty means intact)."""
    problems: list[ChainProblem] = []
    heads = {s.key: s for s in AuditStream.objects.all()}
    seen: set[str] = set()
    current: str | None = None
    expected_seq = 1
    prev_hash = ""
    for event in _events_in_chain_order(chunk_size):
        if event.stream != current:
            if current is not None:
                problems.extend(_check_head(current, expected_seq - 1, prev_hash, heads))
            current, expected_seq, prev_hash = event.stream, 1, ""
            seen.add(event.stream)
        if event.seq != expected_seq:
            problems.append(
                ChainProblem(event.stream, event.seq, "gap", f"expected seq {expected_seq}")
            )
        if event.prev_hash != prev_hash:
            problems.append(
                ChainProblem(event.stream, event.seq, "link_mismatch", "prev_hash does not match")
            )
        recomputed = event_hash(
            stream=event.stream,
            seq=event.seq,
            occurred_at=event.occurred_at,
            actor_id=event.actor_id,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            data=event.data,
            ip=event.ip,
            prev_hash=event.prev_hash,
        )
        if recomputed != event.hash:
            problems.append(
                ChainProblem(event.stream, event.seq, "hash_mismatch", "content was changed")
            )
        expected_seq = event.seq + 1
        prev_hash = event.hash
    if current is not None:
        problems.extend(_check_head(current, expected_seq - 1, prev_hash, heads))
    for key, head in heads.items():
        if key not in seen and head.last_seq:
            problems.append(ChainProblem(key, None, "head_mismatch", "all events are missing"))
    return problems


def _check_head(
    stream: str, last_seq: int, last_hash: str, heads: dict[str, AuditStream]
) -> list[ChainProblem]:
    head = heads.get(stream)
    if head is None:
        return [ChainProblem(stream, None, "missing_head", "no stream head recorded")]
    if head.last_seq != last_seq or head.last_hash != last_hash:
        return [
            ChainProblem(
                stream, last_seq, "head_mismatch", f"head says seq {head.last_seq}; chain ends here"
            )
        ]
    return []


def _events_in_chain_order(chunk_size: int) -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("stream", "seq").iterator(chunk_size=chunk_size)


def audit_events_for_target(*, target_type: str, target_id: str) -> "list[AuditEvent]":
    return list(
        AuditEvent.objects.filter(target_type=target_type, target_id=target_id)
        .select_related("actor")
        .order_by("occurred_at", "id")
    )
