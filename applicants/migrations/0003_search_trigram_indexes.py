"""Trigram indexes so that searching titles and organization names stays fast on PostgreSQL.

Django's `icontains` compiles to `UPPER(col::text) LIKE UPPER('%term%')`; these GIN indexes on
the same expression serve it. pg_trgm is a trusted extension (PostgreSQL 13+), so the database
owner can create it. Where it cannot be created, search still works, only slower, and the
migration says so instead of failing. SQLite (embedded mode) has no equivalent and is skipped.
"""

import logging

from django.db import migrations, transaction

logger = logging.getLogger(__name__)

INDEXES = [
    ("application_title_trgm", "applicants_application", "title"),
    ("organization_name_trgm", "applicants_organization", "legal_name"),
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic():
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # no privilege: keep going without the indexes
        logger.warning("pg_trgm unavailable (%s); search will not use trigram indexes", exc)
        return
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("applicants", "0002_list_indexes")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
