from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.selectors import audit_chain_report


class Command(BaseCommand):
    help = (
        "Recompute every audit hash chain and the sealed checkpoints; report any edited, deleted "
        "or inserted event, and any sealed stream or checkpoint that is gone or changed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_chain_report()
        latest = report.latest_checkpoint
        sealed = (
            f"; {report.checkpoints} checkpoints, the latest #{latest.seq} sealed "
            f"{latest.stream_count} streams at {latest.sealed_at:%Y-%m-%d %H:%M:%S} "
            f"(hash {latest.hash})"
            if latest
            else "; no checkpoint sealed yet (manage.py audit_checkpoint)"
        )
        if report.problems:
            for p in report.problems:
                self.stderr.write(f"{p.kind}: stream={p.stream} seq={p.seq} {p.detail}")
            raise CommandError(
                f"audit chain BROKEN: {len(report.problems)} problem(s) in {report.events} "
                f"events{sealed}"
            )
        self.stdout.write(
            self.style.SUCCESS(f"audit chain intact: {report.events} events verified{sealed}")
        )
