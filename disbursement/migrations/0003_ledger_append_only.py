"""On PostgreSQL, refuse UPDATE, DELETE and TRUNCATE on ledger entries.

Money moves only by adding entries (a reversal or clawback is a new entry). See
audit/migrations/0002_append_only_trigger.py for the same guard on audit events and for the
test-only session variable that lets the test suite empty tables between tests.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('audit.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'ledger entries are append-only (% refused): add a reversal instead', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS ledger_append_only ON disbursement_ledgerentry;
CREATE TRIGGER ledger_append_only
    BEFORE UPDATE OR DELETE ON disbursement_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

DROP TRIGGER IF EXISTS ledger_no_truncate ON disbursement_ledgerentry;
CREATE TRIGGER ledger_no_truncate
    BEFORE TRUNCATE ON disbursement_ledgerentry
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS ledger_append_only ON disbursement_ledgerentry;
DROP TRIGGER IF EXISTS ledger_no_truncate ON disbursement_ledgerentry;
DROP FUNCTION IF EXISTS ledger_refuse_change();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("disbursement", "0002_payout_claim_provideraffiliation_providerstaff_and_more")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
