from typing import Any

from django.core.management.base import BaseCommand

from audit.services import audit_checkpoint_seal


class Command(BaseCommand):
    help = (
        "Seal the head of every audit stream into a new checkpoint chained to the previous one "
        "(Celery beat does this hourly). Print its hash: keep it outside the database."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        checkpoint = audit_checkpoint_seal()
        self.stdout.write(
            self.style.SUCCESS(
                f"checkpoint {checkpoint.seq} sealed: {checkpoint.stream_count} streams, "
                f"{checkpoint.event_count} events ({checkpoint.new_heads} heads changed since "
                f"the previous one); hash {checkpoint.hash}"
            )
        )
