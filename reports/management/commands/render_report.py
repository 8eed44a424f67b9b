import shutil
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from core.exceptions import DomainError
from reports.models import Report
from reports.services import report_render, report_request


class Command(BaseCommand):
    help = (
        "Request a report as a user and render it now (in this process, unless a worker took "
        "it first). Prints the files' SHA-256; --output copies the PDF and CSV to a folder. "
        "Exits 1 if the report failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=Report.Kind.values)
        parser.add_argument("--as", dest="email", required=True, help="Who requests it (email).")
        parser.add_argument("--program", help="program_summary, voucher_register (id)")
        parser.add_argument("--voucher", help="voucher_statement (id)")
        parser.add_argument("--run", help="reconciliation (run id)")
        parser.add_argument("--from", dest="date_from", help="audit_extract, YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", help="audit_extract, YYYY-MM-DD")
        parser.add_argument("--stream", help="audit_extract: one stream or a kind of stream")
        parser.add_argument("--action", help="audit_extract: one audit action")
        parser.add_argument("--language", help="en or zh-hans (the user's own by default)")
        parser.add_argument("--output", help="Copy the PDF and the CSV into this folder.")
        parser.add_argument("--wait", type=int, default=3600, help="Seconds to wait (3600).")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"].strip()).first()
        if user is None:
            raise CommandError(f"no user {options['email']}")
        names = ("program", "voucher", "run", "date_from", "date_to", "stream", "action")
        params = {n: options[n] for n in (*names, "language") if options.get(n) is not None}
        try:
            report = report_request(actor=user, kind=options["kind"], params=params)
        except DomainError as exc:
            fields = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
            raise CommandError(f"{exc.code}: {exc.message} {fields}".strip()) from exc
        self.stdout.write(f"{report.reference} queued ({report.get_kind_display()})")
        report_render(report_id=report.pk)
        deadline = time.monotonic() + options["wait"]
        report.refresh_from_db()
        while not report.is_finished and time.monotonic() < deadline:
            time.sleep(1)  # a worker claimed it first: wait for it
            report.refresh_from_db()
        if report.status != Report.Status.DONE:
            raise CommandError(f"{report.reference} {report.status}: {report.error}")
        self.stdout.write(f"PDF {report.pdf.name} sha256={report.pdf_sha256}")
        self.stdout.write(f"CSV {report.csv.name} sha256={report.csv_sha256}")
        if options.get("output"):
            folder = Path(options["output"])
            folder.mkdir(parents=True, exist_ok=True)
            stem = report.summary.get("stem") or report.reference
            for field, suffix in ((report.pdf, "pdf"), (report.csv, "csv")):
                with field.open("rb") as source, (folder / f"{stem}.{suffix}").open("wb") as out:
                    shutil.copyfileobj(source, out)
            self.stdout.write(f"copied to {folder}")
        self.stdout.write(self.style.SUCCESS(f"{report.reference} done"))
