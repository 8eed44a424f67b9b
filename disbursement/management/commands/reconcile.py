from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.money import format_money
from disbursement.models import ReconciliationRun
from disbursement.services.reconciliation import reconcile_ledger


class Command(BaseCommand):
    help = (
        "Reconcile every voucher, program and accepted claim with the ledger. Stores the run; "
        "exits 1 and lists the discrepancies when there are any, 2 if the run failed, 0 when clean."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--show", type=int, default=50, help="Print at most this many discrepancies (50)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = reconcile_ledger(actor=None)
        except Exception as exc:  # stored on the run as failed; say so and exit 2
            raise CommandError(f"ledger reconciliation FAILED: {exc}", returncode=2) from exc
        checked = run.checked
        summary = (
            f"run {run.pk}: {checked.get('vouchers', 0)} vouchers, "
            f"{checked.get('programs', 0)} programs, {checked.get('ledger_entries', 0)} ledger "
            f"entries, {checked.get('claims', 0)} claims compared"
        )
        if run.status == ReconciliationRun.Status.CLEAN:
            self.stdout.write(self.style.SUCCESS(f"ledger reconciled: CLEAN ({summary})"))
            return
        shown = run.discrepancies.filter(is_problem=True).order_by("id")[: options["show"]]
        for d in shown:
            currency = d.detail.get("currency", "")
            difference = d.detail.get("difference_cents")
            extra = f" (difference {format_money(difference, currency)})" if difference else ""
            self.stderr.write(
                f"{d.kind}: {d.subject} expected={d.expected} actual={d.actual}{extra}"
            )
        if run.discrepancy_count > options["show"]:
            self.stderr.write(f"... and {run.discrepancy_count - options['show']} more")
        raise CommandError(
            f"ledger reconciliation found {run.discrepancy_count} DISCREPANCIES ({summary}); "
            f"an alert was raised"
        )
