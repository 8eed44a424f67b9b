"""Nothing the program must keep can be deleted (plan A6; 2 CFR 200.334 asks for three years
after the final report, longer under a legal hold: here, nothing is ever hard-deleted).

- A code scan: every `.delete(` in the application's code is in KNOWN_DELETES, with why.
- The admin site: not even a superuser gets a delete permission on a record of money, decisions
  or the trail.
- The database: a voucher with a ledger cannot be deleted (PROTECT, and the ledger refuses).
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.db.models import ProtectedError
from django.test import RequestFactory

from applicants.models import Application, ApplicationVersion, Document, Organization
from audit.models import AuditCheckpoint, AuditEvent
from disbursement.models import Claim, LedgerEntry, Payout, Provider, ReconciliationRun
from reports.models import Report
from tests.disbursement.conftest import active_voucher, provider_staff  # noqa: F401
from tests.vouchers.conftest import approved, ready  # noqa: F401
from vouchers.models import AwardLetter, Decision, Program, Review, ScreeningResult, Voucher

APPS = ["accounts", "applicants", "audit", "core", "disbursement", "notifications", "reports"]
APPS.append("vouchers")
# file:line text -> why it may delete
KNOWN_DELETES = {
    "accounts/services.py": "a user's own authenticator devices (TOTP reset), and sessions",
    "disbursement/services/providers.py": "a staff link or an affiliation (registry, audited)",
    "reports/services.py": "files of a render that lost its claim (the other render stands)",
    "vouchers/services/letters.py": "the file a failed write left (the letter row stays)",
}
RECORDS = [
    Organization,
    Application,
    ApplicationVersion,
    Document,
    Program,
    ScreeningResult,
    Review,
    Decision,
    Voucher,
    AwardLetter,
    Provider,
    Claim,
    LedgerEntry,
    Payout,
    ReconciliationRun,
    Report,
    AuditEvent,
    AuditCheckpoint,
]


def test_every_delete_in_the_code_is_known():
    root = Path(settings.BASE_DIR)
    found = {}
    for app in APPS:
        for path in (root / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if re.search(r"\.delete\(", line):
                    found[f"{path.relative_to(root)}:{number}"] = line.strip()
    unknown = {
        where: line for where, line in found.items() if where.split(":")[0] not in KNOWN_DELETES
    }
    assert unknown == {}, unknown
    assert found, "the scan found nothing: it is not looking"


@pytest.mark.django_db
def test_no_admin_may_delete_a_record(admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    for model in RECORDS:
        model_admin = admin.site._registry.get(model)
        if model_admin is None:
            continue  # not in the admin at all
        assert not model_admin.has_delete_permission(request), model.__name__
        assert "delete_selected" not in model_admin.get_actions(request), model.__name__


@pytest.mark.django_db
def test_a_voucher_with_a_ledger_cannot_be_deleted(active_voucher):  # noqa: F811
    with pytest.raises(ProtectedError):
        Voucher.objects.filter(pk=active_voucher.pk).delete()
    assert Voucher.objects.filter(pk=active_voucher.pk).exists()
