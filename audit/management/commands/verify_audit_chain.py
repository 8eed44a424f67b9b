from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditEvent
from audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Recompute every audit hash chain and report any edited, deleted or inserted event."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = audit_chain_verify()
        total = AuditEvent.objects.count()
        if problems:
            for p in problems:
                self.stderr.write(f"{p.kind}: stream={p.stream} seq={p.seq} {p.detail}")
            raise CommandError(f"audit chain BROKEN: {len(problems)} problem(s) in {total} events")
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {total} events verified"))
