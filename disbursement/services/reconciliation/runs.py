"""What every run shares: its row, its findings (stored in batches, all counted), its end
(status, audit event, one alert and its emails), one snapshot, rows streamed from a cursor."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_record
from core.money import cents_to_str
from disbursement.models import Alert, Discrepancy, ReconciliationRun
from disbursement.services.reconciliation.policy import LEDGER_ALERT_ROLES, STATEMENT_ALERT_ROLES
from notifications.services import notification_enqueue

D = Discrepancy.Kind
Run = ReconciliationRun

MAX_STORED = getattr(settings, "RECONCILIATION_MAX_STORED", 10_000)
BATCH = 2_000


@dataclass
class Sink:
    """Collects a run's findings: stores them in batches, counts them all."""

    run: ReconciliationRun
    problems: int = 0
    stored: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    _pending: list[Discrepancy] = field(default_factory=list)

    def add(
        self,
        kind: str,
        subject: str,
        *,
        expected: int | str | None = None,
        actual: int | str | None = None,
        detail: dict[str, Any] | None = None,
        is_problem: bool = True,
    ) -> None:
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        if is_problem:
            self.problems += 1
        if self.stored >= MAX_STORED:
            return
        self.stored += 1
        self._pending.append(
            Discrepancy(
                run=self.run,
                kind=kind,
                subject=str(subject)[:120],
                expected=money_text(expected),
                actual=money_text(actual),
                detail=detail or {},
                is_problem=is_problem,
            )
        )
        if len(self._pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        Discrepancy.objects.bulk_create(self._pending)
        self._pending = []


def money_text(value: int | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return ("-" if value < 0 else "") + cents_to_str(abs(value))
    return str(value)[:60]


@transaction.atomic
def start_run(kind: str, actor: Any, **fields: Any) -> ReconciliationRun:
    started_by = actor if getattr(actor, "is_authenticated", False) else None
    return Run.objects.create(kind=kind, started_by=started_by, **fields)


def finish_run(run: ReconciliationRun, sink: Sink, checked: dict[str, Any]) -> None:
    """Close the run in the caller's transaction: status, counts, audit, alert and emails."""
    sink.flush()
    run.status = Run.Status.DISCREPANCIES if sink.problems else Run.Status.CLEAN
    run.discrepancy_count = sink.problems
    run.checked = {
        **checked,
        "found": dict(sorted(sink.by_kind.items())),
        "stored": sink.stored,
        "truncated": sink.stored < sum(sink.by_kind.values()),
    }
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "discrepancy_count", "checked", "finished_at", "updated_at"])
    audit_record(
        actor=run.started_by,
        action=AuditAction.RECONCILIATION_RUN,
        target=run,
        data={
            "kind": run.kind,
            "status": run.status,
            "discrepancies": run.discrepancy_count,
            "checked": {k: v for k, v in checked.items() if isinstance(v, int | str)},
            "provider": run.provider_id,
            "sha256": run.statement_sha256,
        },
    )
    if sink.problems:
        raise_alert(run)


def raise_alert(run: ReconciliationRun) -> None:
    """One alert per run (dedupe key), and one email per recipient, through the outbox."""
    if run.kind == Run.Kind.LEDGER:
        message = _("Ledger reconciliation found %(n)d discrepancies.") % {
            "n": run.discrepancy_count
        }
        roles: tuple[str, ...] = LEDGER_ALERT_ROLES
    else:
        message = _("The %(month)s statement of %(provider)s has %(n)d discrepancies.") % {
            "month": f"{run.statement_month:%Y-%m}" if run.statement_month else "",
            "provider": run.provider.short_name if run.provider else "",
            "n": run.discrepancy_count,
        }
        roles = STATEMENT_ALERT_ROLES
    _alert_row, created = Alert.objects.get_or_create(
        dedupe_key=f"reconciliation:{run.pk}",
        defaults={"kind": Alert.Kind.RECONCILIATION, "message": message[:500], "run": run},
    )
    if not created:
        return
    link = settings.SITE_URL + reverse("reconciliation:run_detail", args=[run.pk])
    for user in User.objects.filter(role__in=roles, is_active=True).order_by("pk"):
        notification_enqueue(
            kind="reconciliation_alert",
            recipient=user,
            recipient_email=user.email,
            language=user.preferred_language,
            template="reconciliation_alert",
            dedupe_key=f"reconciliation_alert:{run.pk}:{user.pk}",
            context={
                "user_name": user.full_name,
                "kind": run.kind,
                "count": run.discrepancy_count,
                "provider": run.provider.short_name if run.provider else "",
                "month": f"{run.statement_month:%Y-%m}" if run.statement_month else "",
                "found": run.checked.get("found", {}),
                "link": link,
            },
        )


@transaction.atomic
def fail_run(run_id: int, exc: BaseException) -> None:
    Run.objects.filter(pk=run_id).update(
        status=Run.Status.FAILED,
        error=f"{type(exc).__name__}: {exc}"[:5000],
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
    run = Run.objects.get(pk=run_id)
    audit_record(  # the running row was committed and audited nowhere else
        actor=run.started_by,
        action=AuditAction.RECONCILIATION_RUN,
        target=run,
        data={"kind": run.kind, "status": run.status, "error": run.error[:500]},
    )


def repeatable_read() -> None:
    """Read every query of this transaction from one snapshot (PostgreSQL), so a claim that
    commits between two queries cannot show up as a false discrepancy. Must be the
    transaction's first statement, so it is skipped when the block is nested (tests)."""
    conn = transaction.get_connection()
    if conn.vendor == "postgresql" and conn.in_atomic_block and not conn.savepoint_ids:
        with conn.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def stream_rows(sql: str, params: Iterable[Any] = ()) -> Iterator[tuple[Any, ...]]:
    """Stream a query's rows: a server-side cursor on PostgreSQL (bounded memory)."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, list(params))
        while True:
            chunk = cursor.fetchmany(BATCH)
            if not chunk:
                return
            yield from chunk
