"""Remove a person's authenticator app from the server console (break-glass, audited)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import otp_device_reset
from core.exceptions import DomainError


class Command(BaseCommand):
    help = (
        "Reset the second factor of one account (lost phone) when no other administrator can "
        "do it in the admin site. The person sets up an app again at their next login."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("email")
        parser.add_argument("--reason", required=True, help="Why; stored in the audit trail.")

    def handle(self, *args: Any, email: str, reason: str, **options: Any) -> None:
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No account with the email {email}.")
        try:
            removed = otp_device_reset(actor=None, user_id=user.pk, reason=reason)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{user.email}: {removed} device(s) removed; sessions ended.")
