"""Reads for the auditor portal: who may read the trail, searching it, and one application's or
voucher's whole story with the verification of the chains it comes from.

Streams are named after their target ("vouchers.voucher:7", audit.services.stream_key_for).
Accepted, reversed and clawed-back money is written to the voucher's stream; a rejected claim to
the claim's own ("disbursement.claim:12"); a payout's preparation, approval, payment and export
to the payout's. Refusals are written to the refused user's stream with the object as target,
and a budget commitment to the program's stream with the application's reference in its data.
"""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Case, CharField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Cast, Concat
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from applicants.models import Application, ApplicationVersion
from audit.models import AuditAction, AuditEvent, AuditStream
from audit.selectors import ChainProblem
from audit.services import event_hash
from core.money import format_money
from disbursement.models import Claim, Payout
from vouchers.models import Program, Voucher

BIGINT_MAX = 2**63 - 1
TRAIL_READER_ROLES = frozenset({User.Role.AUDITOR, User.Role.ADMIN})

APPLICATION_TYPE = Application._meta.label_lower
VOUCHER_TYPE = Voucher._meta.label_lower
PROGRAM_TYPE = Program._meta.label_lower
CLAIM_TYPE = Claim._meta.label_lower
PAYOUT_TYPE = Payout._meta.label_lower


def audit_trail_readable_by(user: Any) -> bool:
    """The whole trail (every login, IP address and refusal of every user) is for auditors and
    administrators only. Officers and finance see an object's own history on its page."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.role in TRAIL_READER_ROLES
    )


# --- search ----------------------------------------------------------------------------------


def day_bounds(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """[start of `first`, start of the day after `last`) in the program's time zone (the
    project's TIME_ZONE): both days are included whole."""
    zone = timezone.get_default_timezone()
    start = timezone.make_aware(datetime.combine(first, time.min), zone) if first else None
    end = (
        timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min), zone)
        if last
        else None
    )
    return start, end


def audit_event_search(
    *,
    actor: str = "",
    action: str = "",
    target_type: str = "",
    target_id: str = "",
    target: str = "",
    stream: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    """Events matching every given filter, newest first, with `program_slug` for the link to a
    program's page. Filters come validated (audit.forms.AuditSearchForm). The page costs two
    queries (count and rows) at any size: everything shown is on the event row itself."""
    qs = AuditEvent.objects.all()
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if action:
        qs = qs.filter(action=action)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id:
        qs = qs.filter(target_id=target_id)
    if target:
        qs = qs.filter(target_label__icontains=target)
    if stream:
        qs = qs.filter(stream=stream)
    start, end = day_bounds(date_from, date_to)
    if start is not None:
        qs = qs.filter(occurred_at__gte=start)
    if end is not None:
        qs = qs.filter(occurred_at__lt=end)
    return with_program_slug(qs).order_by("-occurred_at", "-id")


def with_program_slug(qs: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    """Programs' pages are addressed by slug: fetch it in the same query as the event. The ids
    are compared as text, so no target id is ever cast to a number (not all of them are)."""
    programs = (
        Program.objects.annotate(key=Cast("pk", output_field=CharField()))
        .filter(key=OuterRef("target_id"))
        .values("slug")[:1]
    )
    return qs.annotate(
        program_slug=Case(
            When(target_type=PROGRAM_TYPE, then=Subquery(programs)),
            default=Value(""),
            output_field=CharField(),
        )
    )


# --- showing an event's data -----------------------------------------------------------------


LONG_WORD = 40  # longer unbroken values (SHA-256 digests) would stretch the page


@dataclass(frozen=True)
class DataRow:
    """One line of an event's data: a change (before -> after) or a plain value."""

    key: str
    value: str = ""
    before: str = ""
    after: str = ""
    is_change: bool = False
    full: str = ""  # the whole value when `value` is shortened (a hash, a long token)


def _text(value: Any, key: str = "") -> str:
    if value is None:
        return "—"
    if key.endswith("_cents") and isinstance(value, int) and not isinstance(value, bool):
        return format_money(value)  # amounts are stored in cents: show them as money
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _is_change(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"before", "after"}


def data_rows(data: Any) -> list[DataRow]:
    """The event's data as readable lines. Understands the shapes audit_record writers use:
    {"field": {"before": x, "after": y}}, {"changes": {...}} (admin) and top-level
    {"before": {...}, "after": {...}} (clawback); anything else is shown as its value."""
    if not isinstance(data, dict):
        return [DataRow(key="", value=_text(data))] if data not in (None, "", [], {}) else []
    rows: list[DataRow] = []
    if isinstance(data.get("before"), dict) and isinstance(data.get("after"), dict):
        before, after = data["before"], data["after"]
        for key in sorted(set(before) | set(after)):
            rows.append(
                DataRow(
                    key=key,
                    before=_text(before.get(key), key),
                    after=_text(after.get(key), key),
                    is_change=True,
                )
            )
        data = {k: v for k, v in data.items() if k not in ("before", "after")}
    for key in sorted(data):
        value = data[key]
        if _is_change(value):
            rows.append(
                DataRow(
                    key=key,
                    before=_text(value["before"], key),
                    after=_text(value["after"], key),
                    is_change=True,
                )
            )
        elif key == "changes" and isinstance(value, dict) and all(map(_is_change, value.values())):
            rows.extend(
                DataRow(
                    key=name,
                    before=_text(change["before"], name),
                    after=_text(change["after"], name),
                    is_change=True,
                )
                for name, change in sorted(value.items())
            )
        else:
            text = _text(value, key)
            if len(text) > LONG_WORD and " " not in text:  # a digest: its start identifies it
                rows.append(DataRow(key=key, value=text[:16] + "…", full=text))
            else:
                rows.append(DataRow(key=key, value=text))
    return rows


# --- chain verification of chosen streams ------------------------------------------------------


@dataclass
class StreamCheck:
    """The verification of one stream shown on a page.

    `whole`: every event of the stream was recomputed, from seq 1 to the recorded head.
    Otherwise only the events shown were (their hash, and the link to the event before each):
    a shared stream (a program's, a user's) is verified whole by verify_audit_chain."""

    key: str
    whole: bool
    events: int = 0
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _recomputed(event: AuditEvent) -> str:
    return event_hash(
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


def check_whole_stream(key: str, events: list[AuditEvent], head: AuditStream | None) -> StreamCheck:
    """Recompute one stream from its first event; `events` must be all of it."""
    check = StreamCheck(key=key, whole=True, events=len(events))
    expected_seq, prev_hash = 1, ""
    for event in sorted(events, key=lambda e: e.seq):
        if event.seq != expected_seq:
            check.problems.append(
                ChainProblem(key, event.seq, "gap", f"expected seq {expected_seq}")
            )
        if event.prev_hash != prev_hash:
            check.problems.append(
                ChainProblem(key, event.seq, "link_mismatch", "prev_hash does not match")
            )
        if _recomputed(event) != event.hash:
            check.problems.append(
                ChainProblem(key, event.seq, "hash_mismatch", "content was changed")
            )
        expected_seq, prev_hash = event.seq + 1, event.hash
    last_seq = expected_seq - 1
    if head is None:
        if events:
            check.problems.append(ChainProblem(key, None, "missing_head", "no stream head"))
    elif head.last_seq != last_seq or head.last_hash != prev_hash:
        kind = "head_mismatch"
        detail = f"head says seq {head.last_seq}; chain ends at {last_seq}"
        check.problems.append(ChainProblem(key, last_seq or None, kind, detail))
    return check


def check_shown_events(key: str, events: list[AuditEvent], before: dict[int, str]) -> StreamCheck:
    """Verify only `events` of a shared stream: each one's hash, and its link to the event
    before it (`before`: seq -> hash of the predecessors, as stored)."""
    check = StreamCheck(key=key, whole=False, events=len(events))
    for event in sorted(events, key=lambda e: e.seq):
        if _recomputed(event) != event.hash:
            check.problems.append(
                ChainProblem(key, event.seq, "hash_mismatch", "content was changed")
            )
        expected = "" if event.seq == 1 else before.get(event.seq - 1)
        if expected is None:
            check.problems.append(
                ChainProblem(key, event.seq, "gap", f"event {event.seq - 1} is missing")
            )
        elif event.prev_hash != expected:
            check.problems.append(
                ChainProblem(key, event.seq, "link_mismatch", "prev_hash does not match")
            )
    return check


def verify_shown(events: list[AuditEvent], whole_streams: set[str]) -> list[StreamCheck]:
    """Check the chains behind `events`: the streams in `whole_streams` whole (all their events
    must be in `events`), the others event by event. Two queries at most: the heads, and the
    predecessors of the shared streams' events."""
    by_stream: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in events:
        by_stream[event.stream].append(event)
    heads = {
        h.key: h for h in AuditStream.objects.filter(key__in=sorted(whole_streams | set(by_stream)))
    }
    checks = [
        check_whole_stream(key, by_stream.get(key, []), heads.get(key))
        for key in sorted(whole_streams)
        if key in by_stream or key in heads
    ]
    shared = {key: evs for key, evs in by_stream.items() if key not in whole_streams}
    wanted = [(key, e.seq - 1) for key, evs in shared.items() for e in evs if e.seq > 1]
    predecessors: dict[str, dict[int, str]] = defaultdict(dict)
    if wanted:
        condition = reduce(or_, (Q(stream=key, seq=seq) for key, seq in wanted))
        for stream, seq, digest in AuditEvent.objects.filter(condition).values_list(
            "stream", "seq", "hash"
        ):
            predecessors[stream][seq] = digest
    checks.extend(
        check_shown_events(key, evs, predecessors[key]) for key, evs in sorted(shared.items())
    )
    return checks


# --- timelines -------------------------------------------------------------------------------


@dataclass
class Timeline:
    """Everything that happened to one application and its voucher, oldest first."""

    application: Application
    voucher: Voucher | None
    versions: list[ApplicationVersion]
    events: list[AuditEvent]
    checks: list[StreamCheck]

    @property
    def intact(self) -> bool:
        return all(c.ok for c in self.checks)


def _key(label: str, pk: Any) -> str:
    return f"{label}:{pk}"


def _pk(value: Any) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise Http404("No such object.") from None
    if not 1 <= pk <= BIGINT_MAX:
        raise Http404("No such object.")
    return pk


def timeline_for_application(*, application_id: Any) -> Timeline:
    application = (
        Application.objects.select_related("organization", "program")
        .filter(pk=_pk(application_id))
        .first()
    )
    if application is None:
        raise Http404("No such application.")
    return _timeline(application)


def timeline_for_voucher(*, voucher_id: Any) -> Timeline:
    voucher = Voucher.objects.filter(pk=_pk(voucher_id)).only("application_id").first()
    if voucher is None:
        raise Http404("No such voucher.")
    return timeline_for_application(application_id=voucher.application_id)


def _timeline(application: Application) -> Timeline:
    voucher = (
        Voucher.objects.select_related("program", "organization")
        .filter(application=application)
        .first()
    )
    own = {_key(APPLICATION_TYPE, application.pk)}
    about = Q(target_type=APPLICATION_TYPE, target_id=str(application.pk))
    # The budget commitment of the award, in the program's (shared) stream.
    about |= Q(
        stream=_key(PROGRAM_TYPE, application.program_id),
        action=AuditAction.PROGRAM_COMMITTED,
        data__application=application.reference,
    )
    if voucher is not None:
        own.add(_key(VOUCHER_TYPE, voucher.pk))
        about |= Q(target_type=VOUCHER_TYPE, target_id=str(voucher.pk))
        claims = Claim.objects.filter(voucher=voucher).order_by()
        claim_streams = claims.annotate(
            key=Concat(Value(f"{CLAIM_TYPE}:"), Cast("pk", CharField()))
        ).values("key")
        payout_streams = (
            claims.filter(payout__isnull=False)
            .annotate(key=Concat(Value(f"{PAYOUT_TYPE}:"), Cast("payout_id", CharField())))
            .values("key")
        )
        about |= Q(stream__in=Subquery(claim_streams)) | Q(stream__in=Subquery(payout_streams))
    events = list(
        AuditEvent.objects.filter(Q(stream__in=own) | about).order_by("occurred_at", "id")
    )
    # Claims' and payouts' streams are this voucher's own: verify them whole as well.
    whole = own | {
        e.stream for e in events if e.stream.startswith((f"{CLAIM_TYPE}:", f"{PAYOUT_TYPE}:"))
    }
    return Timeline(
        application=application,
        voucher=voucher,
        versions=list(application.versions.order_by("number")),
        events=events,
        checks=verify_shown(events, whole),
    )
