"""Helper commands the PostgreSQL-restart test runs against its private cluster, in their own
process (the test process's Django is bound to the test database on the shared server):

    python -m tests.faults.remote seed --providers 8 --vouchers 2
        program, providers, staff and tokens, vouchers approved and accepted: all through the
        services; prints JSON {"vouchers": [{"code", "cap_cents"}], "tokens": [...]}
    python -m tests.faults.remote check
        the books after the load: claims by reference, the invariants per voucher, duplicate
        idempotency keys, the ledger reconciliation and the audit chain; prints JSON

The environment (DATABASE_URL, DJANGO_SETTINGS_MODULE=tests.faults.settings) says where.
"""

import argparse
import json
import sys
from typing import Any


def seed(providers: int, vouchers: int) -> dict[str, Any]:
    from tests.conftest import COMPLETE_ANSWERS
    from tests.factories import UserFactory
    from tests.faults.seeding import (
        active_voucher,
        program_with_providers,
        provider_client,
        ready_application,
    )

    admin = UserFactory(role="admin")
    approver, reviewer = UserFactory(role="approver"), UserFactory(role="reviewer")
    program = program_with_providers(admin=admin, providers=providers, label="PG")
    approved = list(program.approved_providers.order_by("pk"))
    tokens = [provider_client(admin=admin, provider=p)[1] for p in approved]
    issued = [
        active_voucher(
            app=ready_application(
                program=program,
                provider=approved[0],
                reviewer=reviewer,
                admin=admin,
                approver=approver,
            ),
            approver=approver,
            amount_cents=COMPLETE_ANSWERS["requested_amount_cents"],  # all they asked for
        )
        for _ in range(vouchers)
    ]
    return {
        "vouchers": [{"code": v.code, "cap_cents": v.cap_cents} for v in issued],
        "tokens": tokens,
        "over_cap_policy": program.over_cap_policy,
    }


def check() -> dict[str, Any]:
    from django.db import connection
    from django.db.models import Count, Sum

    from audit.selectors import audit_chain_verify
    from disbursement.models import Claim, LedgerEntry
    from disbursement.services.reconciliation.ledger import reconcile_ledger
    from vouchers.models import Voucher

    vouchers = []
    for voucher in Voucher.objects.order_by("pk"):
        entries = LedgerEntry.objects.filter(voucher=voucher)
        vouchers.append(
            {
                "code": voucher.code,
                "status": voucher.status,
                "cap_cents": voucher.cap_cents,
                "spent_cents": voucher.spent_cents,
                "ledger_spent_cents": entries.aggregate(s=Sum("spent_delta_cents"))["s"] or 0,
                "ledger_cap_cents": entries.aggregate(s=Sum("cap_delta_cents"))["s"] or 0,
                "entries": entries.count(),
            }
        )
    claims = {
        ref: {"id": pk, "status": status, "subsidy_cents": subsidy, "provider": provider}
        for ref, pk, status, subsidy, provider in Claim.objects.values_list(
            "provider_reference", "pk", "status", "subsidy_cents", "provider_id"
        )
    }
    duplicate_keys = list(
        LedgerEntry.objects.values("idempotency_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("idempotency_key", flat=True)
    )
    charges_per_claim = dict(
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHARGE)
        .values("claim_id")
        .annotate(n=Count("id"))
        .values_list("claim_id", "n")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT provider_id, provider_reference, count(*) FROM disbursement_claim "
            "GROUP BY 1, 2 HAVING count(*) > 1"
        )
        duplicate_references = cursor.fetchall()
    run = reconcile_ledger()
    problems = audit_chain_verify()
    return {
        "vouchers": vouchers,
        "claims": claims,
        "claims_total": len(claims),
        "duplicate_idempotency_keys": duplicate_keys,
        "duplicate_references": duplicate_references,
        "claims_with_more_than_one_charge": [c for c, n in charges_per_claim.items() if n > 1],
        "accepted_without_charge": list(
            Claim.objects.filter(status=Claim.Status.ACCEPTED)
            .exclude(pk__in=list(charges_per_claim))
            .values_list("pk", flat=True)
        ),
        "rejected_with_charge": list(
            Claim.objects.filter(
                status=Claim.Status.REJECTED, pk__in=list(charges_per_claim)
            ).values_list("pk", flat=True)
        ),
        "reconciliation": {
            "status": run.status,
            "discrepancies": run.discrepancy_count,
        },
        "audit_chain_problems": [str(p) for p in problems],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.remote")
    sub = parser.add_subparsers(dest="command", required=True)
    seeding = sub.add_parser("seed")
    seeding.add_argument("--providers", type=int, default=8)
    seeding.add_argument("--vouchers", type=int, default=2)
    sub.add_parser("check")
    args = parser.parse_args(argv)

    import django

    django.setup()
    result = seed(args.providers, args.vouchers) if args.command == "seed" else check()
    json.dump(result, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
