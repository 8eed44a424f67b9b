"""Give every voucher issued before the ledger existed its opening (issue) entry."""

from django.db import migrations


def forwards(apps, schema_editor):
    Voucher = apps.get_model("vouchers", "Voucher")
    LedgerEntry = apps.get_model("disbursement", "LedgerEntry")
    for voucher in Voucher.objects.filter(ledger__isnull=True).iterator():
        LedgerEntry.objects.create(
            voucher=voucher, program_id=voucher.program_id, kind="issue", cap_delta_cents=voucher.cap_cents,
            committed_delta_cents=voucher.cap_cents, spent_after_cents=voucher.spent_cents,
            cap_after_cents=voucher.cap_cents, actor_id=voucher.issued_by_id,
            reason="opening entry (backfilled)", idempotency_key=f"voucher-issue:{voucher.pk}",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("disbursement", "0003_ledger_append_only"),
        ("vouchers", "0004_letter_claim_token"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
