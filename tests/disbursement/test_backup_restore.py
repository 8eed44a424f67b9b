"""scripts/backup.sh and scripts/restore_check.sh on a real PostgreSQL database with history.

The restore check restores the dump into a scratch database and runs the migrations check, the
audit chain verification and the ledger reconciliation on the copy: a good backup passes, a
backup of books that were altered behind the application's back fails.
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from disbursement.services.claims import claim_submit
from tests.disbursement.conftest import claim_input

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the dump must see committed rows
    pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump needs PostgreSQL"),
]


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "PYTHON": sys.executable,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "REDIS_URL": "",
        "RESTORE_DATABASE": f"{connection.settings_dict['NAME']}_restore_check",
    }
    return subprocess.run(  # noqa: S603  (our own scripts, fixed arguments)
        ["bash", str(ROOT / "scripts" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def books(provider_staff: Any, active_voucher: Any) -> Any:
    """A voucher with an accepted claim: ledger entries, audit events, a program commitment."""
    claim_submit(
        actor=provider_staff,
        provider=provider_staff.provider_staff.provider,
        data=claim_input(active_voucher),
    )
    return active_voucher


def test_a_backup_restores_and_its_books_check_out(books: Any, tmp_path: Path) -> None:
    dump = tmp_path / "backup.dump"
    backup = _run("backup.sh", str(dump))
    assert backup.returncode == 0, backup.stderr
    assert dump.stat().st_size > 0 and "sha256: " in backup.stdout
    check = _run("restore_check.sh", str(dump))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "audit chain intact" in check.stdout
    assert "ledger reconciled: CLEAN" in check.stdout
    assert "restore check: PASSED" in check.stdout


def test_a_backup_of_altered_books_fails_the_check(books: Any, tmp_path: Path) -> None:
    # Someone with database access adds money to a voucher behind the application's back.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE vouchers_voucher SET spent_cents = spent_cents + 1 WHERE id = %s", [books.pk]
        )
    dump = tmp_path / "altered.dump"
    assert _run("backup.sh", str(dump)).returncode == 0
    check = _run("restore_check.sh", str(dump))
    assert check.returncode != 0
    assert "DISCREPANCIES" in check.stderr
    assert "restore check: FAILED" in check.stderr


def test_the_scripts_refuse_bad_input(tmp_path: Path) -> None:
    missing = _run("restore_check.sh", str(tmp_path / "nope.dump"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    sqlite = subprocess.run(  # noqa: S603
        ["bash", str(ROOT / "scripts" / "backup.sh")],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": "sqlite:///var/db.sqlite3"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sqlite.returncode == 2 and "not a PostgreSQL URL" in sqlite.stderr
