"""Benchmark: the ledger reconciliation at 1,000,000 ledger entries against the raw aggregate.

Creates its own PostgreSQL database (dropped and recreated each run), migrates it and seeds a
consistent history with COPY: vouchers over several programs, each with its issue entry and
claims charged against it (one accepted claim per charge entry, as the claim service writes
them), some reversed, some clawed back, some vouchers expired with their unspent amount
released. Then it times, alternately and in the same process and connection:

- `reconcile_ledger()`: the whole service (run row, every comparison, audit event), and
- the raw limit (the baseline): one hand-written query over the same rows the service reads,
  each read once: the ledger summed per voucher (spent, cap, and what its claim entries moved),
  the accepted and reversed claims summed per voucher (from the same covering index), both
  compared with the voucher row; it returns the vouchers that disagree. It checks the main
  invariants and nothing else (no programs, no per-claim fingerprint, no stored findings), and
- for reference, the narrowest limit: vouchers against the ledger only (no claims read).

    python bench/reconcile.py             # 1,000,000 entries over 10,000 vouchers
    python bench/reconcile.py --quick     # 50,000 entries over 1,000 vouchers: under a minute
    python bench/reconcile.py --entries 2000000 --vouchers 20000 --rounds 7 --keep-db

Ends with exactly one line:
    RESULT reconcile reconcile_s=... raw_s=... baseline=<raw_s> ratio=<reconcile_s / raw_s> \
        ledger_only_s=... ratio_ledger_only=...
(medians over the rounds; target ratio <= 1.5). The server is PostgreSQL from DATABASE_URL (its
host, another database name) or postgres@127.0.0.1:5432; BENCH_DATABASE_URL names it outright.
"""

import argparse
import csv
import hashlib
import io
import json
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

RAW_SQL = """
SELECT v.id, v.spent_cents, v.cap_cents, l.spent, l.cap
FROM vouchers_voucher v
LEFT JOIN (
    SELECT voucher_id, SUM(spent_delta_cents) AS spent, SUM(cap_delta_cents) AS cap
    FROM disbursement_ledgerentry GROUP BY voucher_id
) l ON l.voucher_id = v.id
WHERE v.spent_cents <> COALESCE(l.spent, 0) OR v.cap_cents <> COALESCE(l.cap, 0)
"""
# The baseline: the same rows (ledger, claims, vouchers), each read once, the main invariants.
RAW_SAME_ROWS_SQL = """
SELECT v.id
FROM vouchers_voucher v
LEFT JOIN (
    SELECT voucher_id, SUM(spent_delta_cents) AS spent, SUM(cap_delta_cents) AS cap,
           SUM(CASE WHEN claim_id IS NOT NULL THEN spent_delta_cents ELSE 0 END) AS claimed
    FROM disbursement_ledgerentry GROUP BY voucher_id
) l ON l.voucher_id = v.id
LEFT JOIN (
    SELECT voucher_id, SUM(CASE WHEN status = 'accepted' THEN subsidy_cents ELSE 0 END) AS claimed
    FROM disbursement_claim WHERE status IN ('accepted', 'reversed') GROUP BY voucher_id
) c ON c.voucher_id = v.id
WHERE v.spent_cents <> COALESCE(l.spent, 0) OR v.cap_cents <> COALESCE(l.cap, 0)
   OR COALESCE(l.claimed, 0) <> COALESCE(c.claimed, 0)
"""
# The classic way to check claims against their charges, per claim: for reference only.
PER_CLAIM_SQL = """
SELECT c.id FROM disbursement_claim c
LEFT JOIN disbursement_ledgerentry l ON l.claim_id = c.id AND l.kind = 'charge'
WHERE c.status = 'accepted'
GROUP BY c.id, c.subsidy_cents
HAVING COUNT(l.id) <> 1 OR COALESCE(SUM(l.spent_delta_cents), 0) <> c.subsidy_cents
"""
PROGRAM_SIZE = 1_000  # vouchers per program
PROVIDERS = 8
REVERSED_PER_MILLE = 20  # charges later reversed (claim reversed)
CLAWBACK_PER_MILLE = 5  # movements that are clawbacks
EXPIRED_PERCENT = 5  # vouchers expired, their unspent amount released


def uscc(n: int) -> str:
    """A valid unified social credit code, distinct for each n."""
    from applicants.uscc import ALPHABET, check_character

    digits = ""
    for _ in range(9):
        n, r = divmod(n, len(ALPHABET))
        digits += ALPHABET[r]
    first17 = "91440000" + digits
    return first17 + check_character(first17)


def voucher_code(n: int) -> str:
    """A valid, distinct voucher code for each n (the check character is computed)."""
    from vouchers import codes

    body = ""
    for _ in range(codes.BODY_LENGTH):
        n, r = divmod(n, len(codes.ALPHABET))
        body += codes.ALPHABET[r]
    return codes.format_code(body + codes._luhn_check(body))


# --- Seeding ----------------------------------------------------------------------------------


def copy_rows(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """COPY plain tuples (the two big tables: building model instances would dominate)."""
    from django.db import connection

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([common.NULL if v is None else v for v in row])
    buffer.seek(0)
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '{common.NULL}')"
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(sql, buffer)


CLAIM_COLUMNS = [
    "id", "created_at", "updated_at", "provider_id", "provider_reference", "request_sha256",
    "voucher_id", "voucher_code_submitted", "invoice_number", "invoice_total_cents", "currency",
    "service_period_start", "service_period_end", "status", "rejection_code",
    "rejection_message", "eligible_cents", "subsidy_cents", "billed_to_startup_cents",
    "calculation", "payout_id", "submitted_by_id", "reversed_at", "reversal_reason",
]  # fmt: skip
LEDGER_COLUMNS = [
    "id", "voucher_id", "program_id", "kind", "spent_delta_cents", "cap_delta_cents",
    "committed_delta_cents", "spent_after_cents", "cap_after_cents", "claim_id", "actor_id",
    "reason", "idempotency_key", "created_at",
]  # fmt: skip


class Ids:
    def __init__(self) -> None:
        self.claim = 0
        self.entry = 0


def _calculation(code: str, eligible: int, subsidy: int, invoice: int) -> str:
    """The trace the claim service stores (disbursement.subsidy.calculate and claims.py)."""
    return json.dumps(
        {
            "rounding": "ROUND_DOWN per line, in cents",
            "rates_bps": {"foreign (standard)": 3000, "domestic": 5000},
            "policy": "clamp",
            "lines": [
                {
                    "position": 1,
                    "chip_origin": "domestic",
                    "amount_cents": eligible,
                    "rate_bps": 5000,
                    "subsidy_before_cap_cents": subsidy,
                    "subsidy_cents": subsidy,
                }
            ],
            "eligible_cents": eligible,
            "subsidy_cents": subsidy,
            "clamped_cents": 0,
            "voucher": code,
            "invoice_total_cents": invoice,
            "billed_to_startup_cents": invoice - subsidy,
        },
        separators=(",", ":"),
    )


def _voucher_history(
    voucher: Any,
    movements: int,
    ids: Ids,
    staff_id: int,
    officer_id: int,
    rng: random.Random,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Claims and ledger rows of one voucher (its issue entry + `movements`), consistent:
    the voucher's final spent and cap are set on `voucher`."""
    claims: list[tuple[Any, ...]] = []
    entries: list[tuple[Any, ...]] = []
    cap, spent = voucher.cap_cents, 0
    when = voucher.valid_from

    def entry(
        kind: str, sd: int, cd: int, md: int, claim: int | None, actor: Any, key: str
    ) -> None:
        ids.entry += 1
        entries.append(
            (ids.entry, voucher.pk, voucher.program_id, kind, sd, cd, md, spent, cap, claim,
             actor, "", key, when.isoformat())
        )  # fmt: skip

    entry("issue", 0, cap, cap, None, officer_id, f"issue:{voucher.pk}")
    charged: list[tuple[int, int]] = []  # (claim id, subsidy) still accepted
    expire = voucher.pk % 100 < EXPIRED_PERCENT
    step = timedelta(days=300) / max(movements, 1)
    for index in range(movements):
        when = when + step
        last = index == movements - 1
        roll = rng.randrange(1000)
        if last and expire and spent > 0:
            released = cap - spent
            cap = spent
            entry("expiry_release", 0, -released, -released, None, None, f"expiry:{voucher.pk}")
            continue
        pick = rng.randrange(len(charged)) if charged else -1
        # A reversal gives a claim's subsidy back (not after a clawback took it already).
        if roll < REVERSED_PER_MILLE and pick >= 0 and charged[pick][1] <= spent:
            claim_id, subsidy = charged.pop(pick)
            spent -= subsidy
            entry("reversal", -subsidy, 0, 0, claim_id, officer_id, f"reversal:{claim_id}")
            row = list(claims[claim_id - claims[0][0]])
            row[13], row[22], row[23] = "reversed", when.isoformat(), "Credit note."
            claims[claim_id - claims[0][0]] = tuple(row)
            continue
        if roll < REVERSED_PER_MILLE + CLAWBACK_PER_MILLE and spent > 100:
            amount = rng.randint(1, spent // 10 + 1)
            spent, cap = spent - amount, cap - amount
            entry("clawback", -amount, -amount, -amount, None, officer_id,
                  f"clawback:{voucher.pk}:{ids.entry}")  # fmt: skip
            continue
        room = cap - spent
        # About 80 % of the cap is spent on average; some vouchers fill up.
        top = max(1_001, 16 * voucher.cap_cents // (10 * movements))
        subsidy = min(rng.randint(1_000, top), room)
        if subsidy <= 0:  # the voucher is full: a clawback frees some room
            amount = rng.randint(1, spent // 10 + 1)
            spent, cap = spent - amount, cap - amount
            entry("clawback", -amount, -amount, -amount, None, officer_id,
                  f"clawback:{voucher.pk}:{ids.entry}")  # fmt: skip
            continue
        ids.claim += 1
        eligible = subsidy * 2
        invoice = eligible + rng.randint(0, 10_000)
        stamp = when.isoformat()
        claims.append(
            (ids.claim, stamp, stamp, voucher.provider_id, f"REF-{ids.claim}",
             hashlib.sha256(str(ids.claim).encode()).hexdigest(), voucher.pk, voucher.code,
             f"INV-{ids.claim}", invoice, "CNY", when.date().isoformat(),
             (when + timedelta(days=1)).date().isoformat(), "accepted", "", "", eligible,
             subsidy, invoice - subsidy, _calculation(voucher.code, eligible, subsidy, invoice),
             None, staff_id, None, "")
        )  # fmt: skip
        spent += subsidy
        entry("charge", subsidy, 0, 0, ids.claim, staff_id, f"claim:{ids.claim}")
        charged.append((ids.claim, subsidy))
    voucher.spent_cents, voucher.cap_cents = spent, cap
    voucher.status = "expired" if expire else ("exhausted" if spent == cap else "active")
    return claims, entries


def seed(*, entries: int, vouchers: int) -> dict[str, int]:
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from applicants.models import Application, Organization
    from disbursement.models import Claim, LedgerEntry, Provider, ProviderStaff
    from vouchers.models import Program, Voucher

    rng = random.Random(2026)  # noqa: S311  (reproducible data, not secrets)
    now = timezone.now()
    officer = User.objects.create_user(
        email="approver@bench.example", full_name="Bench Approver", role=User.Role.APPROVER
    )
    staff = User.objects.create_user(
        email="provider@bench.example", full_name="Bench Provider", role=User.Role.PROVIDER
    )
    providers = Provider.objects.bulk_create(
        Provider(
            short_name=f"Bench DC {i}",
            legal_name=f"Bench Data Centre {i} Co., Ltd.",
            registration_number=uscc(900_000 + i),
            region="CN-SH",
            chip_origins=["domestic", "foreign"],
        )
        for i in range(PROVIDERS)
    )
    ProviderStaff.objects.create(provider=providers[0], user=staff)
    n_programs = max(1, -(-vouchers // PROGRAM_SIZE))
    programs = Program.objects.bulk_create(
        Program(
            code=f"RB-R{i:03d}",
            slug=f"reconcile-bench-{i}",
            name=f"Compute voucher round {i}",
            region="CN-SH",
            currency="CNY",
            budget_cents=PROGRAM_SIZE * 300_000_00,
            opens_at=now - timedelta(days=400),
            closes_at=now - timedelta(days=340),
            is_published=True,
        )
        for i in range(n_programs)
    )
    committed = {p.pk: 0 for p in programs}
    movements, extra = divmod(entries - vouchers, vouchers)
    if movements < 1:
        raise SystemExit("need more entries than vouchers (one issue entry each)")
    ids, batch, counts = Ids(), 1_000, {"claims": 0, "ledger_entries": 0}
    for start in range(0, vouchers, batch):
        orgs, apps, vs = [], [], []
        for i in range(start + 1, min(start + batch, vouchers) + 1):
            program = programs[(i - 1) // PROGRAM_SIZE]
            valid_from = now - timedelta(days=330)
            orgs.append(
                Organization(
                    id=i,
                    legal_name=f"Bench Startup {i} Co., Ltd.",
                    registration_number=uscc(i),
                    region="CN-SH",
                    incorporated_on=(now - timedelta(days=900)).date(),
                    headcount=20,
                    created_by_id=officer.pk,
                    created_at=now,
                    updated_at=now,
                )
            )
            apps.append(
                Application(
                    id=i,
                    organization_id=i,
                    program=program,
                    reference=f"{program.code}-{i:07d}",
                    status="approved",
                    version=1,
                    currency="CNY",
                    title="Model training",
                    requested_amount_cents=280_000_00,
                    created_by_id=officer.pk,
                    created_at=now,
                    updated_at=now,
                )
            )
            voucher = Voucher(
                id=i,
                code=voucher_code(i),
                application_id=i,
                program=program,
                organization_id=i,
                status="active",
                currency="CNY",
                cap_cents=rng.randint(1_400, 2_800) * 100_00,
                rate_standard_bps=3000,
                rate_domestic_bps=5000,
                over_cap_policy="clamp",
                terms=program.terms_snapshot(),
                valid_from=valid_from,
                valid_until=valid_from + timedelta(days=365),
                issued_by_id=officer.pk,
                created_at=valid_from,
                updated_at=now,
            )
            voucher.provider_id = providers[i % PROVIDERS].pk  # type: ignore[attr-defined]
            vs.append(voucher)
        claim_rows: list[tuple[Any, ...]] = []
        entry_rows: list[tuple[Any, ...]] = []
        for voucher in vs:
            n = movements + (1 if voucher.pk <= extra else 0)
            claims, rows = _voucher_history(voucher, n, ids, staff.pk, officer.pk, rng)
            claim_rows += claims
            entry_rows += rows
            committed[voucher.program_id] += voucher.cap_cents
        common.copy_objects(orgs)
        common.copy_objects(apps)
        common.copy_objects(vs)
        copy_rows(Claim._meta.db_table, CLAIM_COLUMNS, claim_rows)
        copy_rows(LedgerEntry._meta.db_table, LEDGER_COLUMNS, entry_rows)
        counts["claims"] += len(claim_rows)
        counts["ledger_entries"] += len(entry_rows)
    for program_id, cents in committed.items():
        Program.objects.filter(pk=program_id).update(committed_cents=cents)
    common.reset_sequences([Organization, Application, Voucher, Claim, LedgerEntry])
    common.vacuum_analyze()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('disbursement_ledgerentry')),"
            " pg_size_pretty(pg_total_relation_size('disbursement_claim'))"
        )
        ledger_size, claim_size = cursor.fetchone()
    print(f"  ledger table {ledger_size}, claims table {claim_size} (with indexes)", flush=True)
    return {"programs": n_programs, "vouchers": vouchers, **counts}


# --- Measuring --------------------------------------------------------------------------------


def time_sql(sql: str) -> tuple[float, int]:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    return time.perf_counter() - started, len(rows)


def time_raw() -> tuple[float, int]:
    return time_sql(RAW_SAME_ROWS_SQL)


def time_ledger_only() -> tuple[float, int]:
    return time_sql(RAW_SQL)


def time_components() -> tuple[float, float]:
    """The service's two passes on their own: over the claims, over the ledger."""
    from django.db import connection, transaction

    from disbursement.services.reconciliation import ledger as recon

    tables = {**recon._tables(), "fingerprint": recon.FINGERPRINT_COLUMNS}
    claims_s, _ = time_sql(recon.CLAIMS_FINGERPRINT_SQL.format(**tables))
    with transaction.atomic():
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE recon_ledger ON COMMIT DROP AS "
                + recon.LEDGER_SQL.format(**tables)
            )
        ledger_s = time.perf_counter() - started
    return claims_s, ledger_s


def time_reconcile() -> tuple[float, Any]:
    from disbursement.services.reconciliation import reconcile_ledger

    started = time.perf_counter()
    run = reconcile_ledger()
    return time.perf_counter() - started, run


def check_run(run: Any, counts: dict[str, int]) -> None:
    if run.status != "clean":
        raise SystemExit(f"run {run.pk} is {run.status} on a consistent seed: {run.checked}")
    want = {
        "vouchers": counts["vouchers"],
        "programs": counts["programs"],
        "ledger_entries": counts["ledger_entries"],
    }
    got = {k: run.checked[k] for k in want}
    if got != want:
        raise SystemExit(f"run {run.pk} compared {got}, expected {want}")


def planted_check() -> str:
    """After timing: change one voucher behind the ledger; the next run must say so."""
    from django.db import connection

    from disbursement.services.reconciliation import reconcile_ledger

    target = "(SELECT MIN(id) FROM vouchers_voucher WHERE spent_cents > 0)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE vouchers_voucher SET spent_cents = spent_cents - 1 WHERE id = {target}"
        )
    run = reconcile_ledger()
    with connection.cursor() as cursor:  # put it back: --reuse-db measures this database again
        cursor.execute(
            f"UPDATE vouchers_voucher SET spent_cents = spent_cents + 1 WHERE id = {target}"
        )
    kinds = sorted(run.discrepancies.values_list("kind", flat=True))
    if kinds != ["program_spent", "voucher_spent"]:
        raise SystemExit(f"the planted discrepancy was not found as expected: {kinds}")
    return f"planted one voucher off by 1 cent: found {kinds} (run {run.pk})"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="50,000 entries, 1,000 vouchers")
    parser.add_argument("--entries", type=int, help="ledger entries (default 1,000,000)")
    parser.add_argument("--vouchers", type=int, help="vouchers (default 10,000)")
    parser.add_argument("--rounds", type=int, help="timed rounds of each (default 5; quick 3)")
    parser.add_argument("--database", default="bench_reconcile", help="database name")
    parser.add_argument("--keep-db", action="store_true", help="leave the database afterwards")
    parser.add_argument(
        "--reuse-db", action="store_true", help="measure a database a --keep-db run left"
    )
    args = parser.parse_args(argv)
    args.entries = args.entries or (50_000 if args.quick else 1_000_000)
    args.vouchers = args.vouchers or (1_000 if args.quick else 10_000)
    args.rounds = args.rounds or (3 if args.quick else 5)
    return args


def prepare(args: argparse.Namespace, url: str) -> dict[str, int]:
    import django
    from django.core.management import call_command

    started = time.perf_counter()
    if not args.reuse_db:
        common.recreate_database(url)
    django.setup()
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.perf_counter() - started:.1f} s", flush=True)
    if args.reuse_db:
        from disbursement.models import Claim, LedgerEntry
        from vouchers.models import Program, Voucher

        return {
            "programs": Program.objects.count(),
            "vouchers": Voucher.objects.count(),
            "claims": Claim.objects.count(),
            "ledger_entries": LedgerEntry.objects.count(),
        }
    started = time.perf_counter()
    counts = seed(entries=args.entries, vouchers=args.vouchers)
    from django.db import connection

    # What autovacuum does after a bulk load: statistics, and the visibility map that lets the
    # claims pass read the covering index (claim_reconcile_cover) without the table.
    with connection.cursor() as cursor:
        for table in ("disbursement_claim", "disbursement_ledgerentry", "vouchers_voucher"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"seeded in {time.perf_counter() - started:.1f} s: {counts}", flush=True)
    return counts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = common.bench_database_url(args.database)
    common.use_bench_database(url)
    common.terminate_on_sigterm()
    info = common.machine_info()
    print(f"bench/reconcile.py on {info['cores']} cores ({info['cpu']}), Python {info['python']}")
    print(f"started {info['date']}; load average {common.load_average()}; database {url}")
    try:
        counts = prepare(args, url)
        # Warm-up (not timed): caches, plans, the first run's imports.
        _, mismatched = time_raw()
        mismatched += time_ledger_only()[1]
        if mismatched:
            raise SystemExit(f"the raw query finds {mismatched} vouchers off: the seed is wrong")
        _, run = time_reconcile()
        check_run(run, counts)
        per_claim_s, _ = time_sql(PER_CLAIM_SQL)
        times: dict[str, list[float]] = {
            "raw": [],
            "reconcile": [],
            "claims": [],
            "ledger": [],
            "ledger_only": [],
        }
        for round_number in range(args.rounds):
            # Alternate, so that drift on the machine touches both sides alike.
            raw_s, _ = time_raw()
            recon_s, run = time_reconcile()
            check_run(run, counts)
            claims_s, ledger_s = time_components()
            only_s, _ = time_ledger_only()
            values = (raw_s, recon_s, claims_s, ledger_s, only_s)
            for key, value in zip(times, values, strict=True):
                times[key].append(value)
            print(
                f"  round {round_number + 1}/{args.rounds}: reconcile {recon_s:.3f} s, "
                f"raw {raw_s:.3f} s (claims pass {claims_s:.3f} s, ledger pass {ledger_s:.3f} s)",
                flush=True,
            )
        print(planted_check(), flush=True)
        return report(counts, times, per_claim_s)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            common.drop_database(url)


def report(counts: dict[str, int], times: dict[str, list[float]], per_claim_s: float) -> int:
    med = {key: statistics.median(values) for key, values in times.items()}
    raw_s, recon_s = med["raw"], med["reconcile"]
    ratio = recon_s / raw_s if raw_s else float("inf")

    def row(label: str, key: str) -> list[str]:
        values = times[key]
        return [label, f"{med[key]:.3f}", f"{min(values):.3f}", f"{max(values):.3f}"]

    print()
    print(
        common.table(
            ["what", "median s", "min s", "max s"],
            [
                row("reconcile_ledger(), whole service", "reconcile"),
                row("  its pass over the claims (fingerprint)", "claims"),
                row("  its pass over the ledger (grouped by voucher)", "ledger"),
                row("raw baseline: ledger, claims, vouchers, each read once", "raw"),
                row("raw, narrowest: vouchers against the ledger only", "ledger_only"),
                ["per-claim join (reference, once)", f"{per_claim_s:.3f}", "", ""],
            ],
        )
    )
    print(
        f"\n{counts['ledger_entries']:,} ledger entries, {counts['claims']:,} claims, "
        f"{counts['vouchers']:,} vouchers, {counts['programs']} programs"
        "; "
        f"ratio {ratio:.2f} (target <= 1.5); against the ledger-only query "
        f"{recon_s / med['ledger_only']:.2f}; "
        f"load average {common.load_average()}"
    )
    print(
        f"RESULT reconcile reconcile_s={recon_s:.3f} raw_s={raw_s:.3f} baseline={raw_s:.3f} "
        f"ratio={ratio:.2f} ledger_only_s={med['ledger_only']:.3f} "
        f"ratio_ledger_only={recon_s / med['ledger_only']:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
