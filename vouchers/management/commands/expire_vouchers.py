from typing import Any

from django.core.management.base import BaseCommand

from disbursement.services.vouchers import vouchers_expire_due


class Command(BaseCommand):
    help = "Expire vouchers past their validity; release the unspent amount to the program budget."

    def handle(self, *args: Any, **options: Any) -> None:
        count = vouchers_expire_due()
        self.stdout.write(self.style.SUCCESS(f"{count} voucher(s) expired"))
