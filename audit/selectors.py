"""Reading and verifying the audit trail."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Count

from audit.models import (
    AuditAction,
    AuditCheckpoint,
    AuditCheckpointHead,
    AuditEvent,
    AuditStream,
)
from audit.services import by_key, checkpoint_hash, event_hash, heads_digest

CHECKPOINTS = "(checkpoints)"  # the `stream` of a ChainProblem about the checkpoint chain


@dataclass(frozen=True)
class ChainProblem:
    stream: str
    seq: int | None
    # Streams: gap, hash_mismatch, link_mismatch, head_mismatch, missing_head.
    # Checkpoints (stream "(checkpoints)", seq = the checkpoint's): checkpoint_gap,
    # checkpoint_hash_mismatch, checkpoint_link_mismatch, checkpoint_heads_mismatch,
    # checkpoint_missing. Sealed streams (stream = the sealed one, seq = the sealed seq):
    # sealed_stream_missing, sealed_event_missing, sealed_event_changed.
    kind: str
    detail: str


@dataclass(frozen=True)
class ChainReport:
    problems: list[ChainProblem]
    events: int
    checkpoints: int
    latest_checkpoint: AuditCheckpoint | None


def audit_chain_report(*, chunk_size: int = 2000) -> ChainReport:
    """Verify every stream's chain and the checkpoint chain, all read from one snapshot."""
    with transaction.atomic():
        if connection.vendor == "postgresql" and not connection.savepoint_ids:
            with connection.cursor() as cursor:  # the transaction's first statement
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        problems = _streams_verify(chunk_size)
        checkpoints = list(AuditCheckpoint.objects.order_by("seq"))
        problems.extend(_checkpoints_verify(checkpoints, chunk_size))
        return ChainReport(
            problems=problems,
            events=AuditEvent.objects.count(),
            checkpoints=len(checkpoints),
            latest_checkpoint=checkpoints[-1] if checkpoints else None,
        )


def audit_chain_verify(*, chunk_size: int = 2000) -> list[ChainProblem]:
    """Recompute every stream's chain and the checkpoints; what does not add up (empty: intact)."""
    return audit_chain_report(chunk_size=chunk_size).problems


def _streams_verify(chunk_size: int) -> list[ChainProblem]:
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


def _checkpoints_verify(checkpoints: list[AuditCheckpoint], chunk_size: int) -> list[ChainProblem]:
    """Each checkpoint's hash and link; the latest one's heads; every stream it sealed."""
    problems: list[ChainProblem] = []
    prev_hash = ""
    for expected, checkpoint in enumerate(checkpoints, start=1):
        if checkpoint.seq != expected:
            problems.append(
                ChainProblem(CHECKPOINTS, checkpoint.seq, "checkpoint_gap", f"expected {expected}")
            )
            expected = checkpoint.seq
        if checkpoint.prev_hash != prev_hash:
            problems.append(
                ChainProblem(
                    CHECKPOINTS, checkpoint.seq, "checkpoint_link_mismatch", "prev_hash differs"
                )
            )
        recomputed = checkpoint_hash(
            seq=checkpoint.seq,
            sealed_at=checkpoint.sealed_at,
            stream_count=checkpoint.stream_count,
            event_count=checkpoint.event_count,
            new_heads=checkpoint.new_heads,
            heads_sha256=checkpoint.heads_sha256,
            prev_hash=checkpoint.prev_hash,
        )
        if recomputed != checkpoint.hash:
            problems.append(
                ChainProblem(
                    CHECKPOINTS, checkpoint.seq, "checkpoint_hash_mismatch", "content was changed"
                )
            )
        prev_hash = checkpoint.hash
    problems.extend(_checkpoint_events_verify(checkpoints))
    if checkpoints:
        problems.extend(_heads_verify(checkpoints, chunk_size))
    return problems


def _checkpoint_events_verify(checkpoints: list[AuditCheckpoint]) -> list[ChainProblem]:
    """Each seal also wrote an event: a checkpoint row deleted at the chain's end shows here."""
    by_seq = {c.seq: c.hash for c in checkpoints}
    problems = []
    events = AuditEvent.objects.filter(action=AuditAction.AUDIT_CHECKPOINT_SEALED).only("data")
    for event in events.iterator():
        seq, sealed = event.data.get("checkpoint"), event.data.get("hash")
        if seq not in by_seq:
            problems.append(
                ChainProblem(
                    CHECKPOINTS, seq, "checkpoint_missing", "its seal event exists; the row is gone"
                )
            )
        elif by_seq[seq] != sealed:
            problems.append(
                ChainProblem(
                    CHECKPOINTS, seq, "checkpoint_hash_mismatch", "not the hash its event recorded"
                )
            )
    return problems


def _heads_verify(checkpoints: list[AuditCheckpoint], chunk_size: int) -> list[ChainProblem]:
    """Rebuild the latest checkpoint's seal from the stored heads and check each sealed stream
    still has its head and its sealed event, with the sealed hash."""
    latest = checkpoints[-1]
    problems: list[ChainProblem] = []
    stored = dict(
        AuditCheckpointHead.objects.order_by()
        .values("checkpoint_id")
        .annotate(n=Count("id"))
        .values_list("checkpoint_id", "n")
    )
    for checkpoint in checkpoints:
        if stored.get(checkpoint.pk, 0) != checkpoint.new_heads:
            problems.append(
                ChainProblem(
                    CHECKPOINTS,
                    checkpoint.seq,
                    "checkpoint_heads_mismatch",
                    f"{checkpoint.new_heads} heads sealed, {stored.get(checkpoint.pk, 0)} stored",
                )
            )
    found: list[tuple[str, int, str, Any, Any]] = []

    def sealed() -> Iterator[tuple[str, int, str]]:
        for stream, seq, sealed_hash, event_hash_, head_seq in _sealed_heads(chunk_size):
            if head_seq is None or event_hash_ != sealed_hash or head_seq < seq:
                found.append((stream, seq, sealed_hash, event_hash_, head_seq))
            yield stream, seq, sealed_hash

    digest, streams, events = heads_digest(sealed())
    if (digest, streams, events) != (
        latest.heads_sha256,
        latest.stream_count,
        latest.event_count,
    ):
        problems.append(
            ChainProblem(
                CHECKPOINTS,
                latest.seq,
                "checkpoint_heads_mismatch",
                f"stored heads give {streams} streams and {events} events, not the sealed "
                f"{latest.stream_count} and {latest.event_count}",
            )
        )
    for stream, seq, sealed_hash, event_hash_, head_seq in found:
        if head_seq is None:
            kind, detail = "sealed_stream_missing", f"checkpoint {latest.seq} sealed it"
        elif event_hash_ is None:
            kind, detail = "sealed_event_missing", f"checkpoint {latest.seq} sealed this event"
        elif event_hash_ != sealed_hash:
            kind, detail = "sealed_event_changed", "the event's hash is not the sealed one"
        else:
            kind, detail = "head_mismatch", f"head at seq {head_seq}, below the sealed one"
        problems.append(ChainProblem(stream, seq, kind, detail))
    return problems


def _sealed_heads(chunk_size: int) -> Iterator[tuple[str, int, str, Any, Any]]:
    """Each stream's latest sealed head, in key order, with the event and head found today."""
    q = connection.ops.quote_name
    heads, events, streams = (
        q(m._meta.db_table) for m in (AuditCheckpointHead, AuditEvent, AuditStream)
    )
    sql = (
        f"SELECT h.stream, h.seq, h.hash, e.hash, s.last_seq FROM {heads} h "  # noqa: S608
        f"LEFT JOIN {events} e ON e.stream = h.stream AND e.seq = h.seq "
        f"LEFT JOIN {streams} s ON s.key = h.stream "
        f"WHERE NOT EXISTS (SELECT 1 FROM {heads} n WHERE n.stream = h.stream AND n.seq > h.seq) "
        f"ORDER BY {by_key('h.stream')}"
    )
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(chunk_size):
            yield from rows


def _events_in_chain_order(chunk_size: int) -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("stream", "seq").iterator(chunk_size=chunk_size)


def audit_events_for_target(*, target_type: str, target_id: str) -> "list[AuditEvent]":
    return list(
        AuditEvent.objects.filter(target_type=target_type, target_id=target_id)
        .select_related("actor")
        .order_by("occurred_at", "id")
    )
