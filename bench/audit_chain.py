"""Benchmark: verifying 100,000 audit events, and four kinds of tampering found where they are.

Creates its own PostgreSQL database (dropped and recreated each run), migrates it, and seeds a
consistent trail: `--streams` streams of `--events / --streams` events each, hash-chained as
audit_record() chains them, with their stream heads, then seals a checkpoint. Then it times,
alternately:

- `audit_chain_verify()`: the whole verification (every stream recomputed and linked, heads,
  the checkpoint chain, the sealed heads against the events), and
- the raw limit (the baseline): one server-side cursor over the same events in chain order,
  each event's SHA-256 recomputed in Python and compared, nothing else.

Then, each in a transaction rolled back afterwards, as a database superuser with the triggers
off (session_replication_role = replica), it tampers with the trail and checks that the
verification names the exact stream and position: an edited field, a deleted event, two events
swapped, a forged event inserted.

    python bench/audit_chain.py            # 100,000 events in 10,000 streams
    python bench/audit_chain.py --quick    # 10,000 events in 1,000 streams

Ends with exactly one line:
    RESULT audit_chain verify_s=... raw_s=... baseline=<raw_s> ratio=<verify_s / raw_s> \
        tamper_detected=<n>/4
"""

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

SWAP = "UPDATE audit_auditevent SET seq = %s WHERE stream = %s AND seq = %s"
ACTIONS = ["application.submitted", "application.approved", "voucher.issued", "claim.accepted"]


def seed(*, events: int, streams: int) -> int:
    from django.utils import timezone

    from audit.models import AuditEvent, AuditStream
    from audit.services import audit_checkpoint_seal, event_hash

    per_stream = max(1, events // streams)
    start = timezone.now() - timedelta(days=30)
    rows, heads = [], []
    for s in range(streams):
        stream, prev = f"vouchers.voucher:{s + 1}", ""
        for seq in range(1, per_stream + 1):
            at = start + timedelta(seconds=s * per_stream + seq)
            action = ACTIONS[(s + seq) % len(ACTIONS)]
            data = {"n": seq, "amount_cents": (s * 7919 + seq * 104729) % 10_000_000}
            digest = event_hash(
                stream=stream,
                seq=seq,
                occurred_at=at,
                actor_id=None,
                action=action,
                target_type="vouchers.voucher",
                target_id=str(s + 1),
                data=data,
                ip="10.0.0.1",
                prev_hash=prev,
            )
            rows.append(
                AuditEvent(
                    stream=stream,
                    seq=seq,
                    occurred_at=at,
                    action=action,
                    target_type="vouchers.voucher",
                    target_id=str(s + 1),
                    data=data,
                    ip="10.0.0.1",
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev = digest
        heads.append(AuditStream(key=stream, last_seq=per_stream, last_hash=prev))
        if len(rows) >= 20_000:
            AuditEvent.objects.bulk_create(rows, batch_size=5_000)
            rows = []
    AuditEvent.objects.bulk_create(rows, batch_size=5_000)
    AuditStream.objects.bulk_create(heads, batch_size=5_000)
    common.vacuum_analyze()
    audit_checkpoint_seal()
    return AuditEvent.objects.count()


def time_verify() -> tuple[float, int]:
    from audit.selectors import audit_chain_verify

    started = time.perf_counter()
    problems = audit_chain_verify()
    return time.perf_counter() - started, len(problems)


def time_raw() -> tuple[float, int]:
    """The least a verification must do: read every event once, in chain order, and hash it."""
    from django.db import connection

    from audit.services import event_hash

    started = time.perf_counter()
    bad = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            "SELECT stream, seq, occurred_at, actor_id, action, target_type, target_id, data, "
            'ip, prev_hash, hash FROM audit_auditevent ORDER BY stream COLLATE "C", seq'
        )
        while batch := cursor.fetchmany(5_000):
            for row in batch:
                stream, seq, at, actor, action, ttype, tid, data, ip, prev, digest = row
                if isinstance(data, str):
                    import json

                    data = json.loads(data)
                recomputed = event_hash(
                    stream=stream,
                    seq=seq,
                    occurred_at=at,
                    actor_id=actor,
                    action=action,
                    target_type=ttype,
                    target_id=tid,
                    data=data,
                    ip=ip,
                    prev_hash=prev,
                )
                bad += recomputed != digest
    return time.perf_counter() - started, bad


def _attack(statements: list[tuple[str, list[Any]]]) -> list[Any]:
    """Run the statements with the triggers off, verify, roll everything back."""
    from django.db import connection, transaction

    from audit.selectors import audit_chain_verify

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            for sql, params in statements:
                cursor.execute(sql, params)
            cursor.execute("SET LOCAL session_replication_role = origin")
        problems = audit_chain_verify()
        transaction.set_rollback(True)
    return problems


def tamper_cases(streams: int, per_stream: int) -> list[dict[str, Any]]:
    middle = f"vouchers.voucher:{streams // 2}"
    late = f"vouchers.voucher:{streams - 1}"
    seq = max(1, per_stream // 2)
    cases: list[tuple[str, list[tuple[str, list[Any]]], tuple[str, int | None]]] = [
        (
            "edit one field",
            [
                (
                    "UPDATE audit_auditevent SET data = jsonb_set(data, '{amount_cents}', "
                    "'1') WHERE stream = %s AND seq = %s",
                    [middle, seq],
                )
            ],
            (middle, seq),
        ),
        (
            "delete one event",
            [("DELETE FROM audit_auditevent WHERE stream = %s AND seq = %s", [late, seq])],
            (late, seq + 1 if seq < per_stream else None),
        ),
        (
            "swap two events",
            [  # seq is unique row by row: through a free number
                (SWAP, [10**9, middle, seq]),
                (SWAP, [seq, middle, seq + 1]),
                (SWAP, [seq + 1, middle, 10**9]),
            ],
            (middle, seq),
        ),
        (
            "insert a forged event",
            [
                (
                    "UPDATE audit_auditevent SET seq = seq + 1000000 "
                    "WHERE stream = %s AND seq > %s",
                    [late, seq],
                ),
                (
                    "UPDATE audit_auditevent SET seq = seq - 999999 "
                    "WHERE stream = %s AND seq > 1000000",
                    [late],
                ),
                (
                    "INSERT INTO audit_auditevent (stream, seq, occurred_at, actor_label, action,"
                    " target_type, target_id, target_label, data, ip, user_agent, request_id, "
                    "prev_hash, hash) SELECT stream, %s, occurred_at, '', 'claim.accepted', "
                    "target_type, target_id, '', '{\"amount_cents\": 99}', ip, '', '', hash, "
                    "md5(hash) || md5(hash) FROM audit_auditevent WHERE stream = %s AND seq = %s",
                    [seq + 1, late, seq],
                ),
            ],
            (late, seq + 1),
        ),
    ]
    results = []
    for name, statements, (stream, position) in cases:
        started = time.perf_counter()
        problems = _attack(statements)
        elapsed = time.perf_counter() - started
        here = [p for p in problems if p.stream == stream]
        exact = bool(here) and (position is None or here[0].seq == position)
        results.append(
            {
                "case": name,
                "problems": len(problems),
                "first": f"{here[0].kind} at {here[0].stream} #{here[0].seq}" if here else "",
                "expected": f"{stream} #{position}",
                "exact": exact,
                "seconds": round(elapsed, 2),
            }
        )
        print(f"  {name}: {results[-1]}", flush=True)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10,000 events, 1,000 streams")
    parser.add_argument("--events", type=int, help="events (default 100,000)")
    parser.add_argument("--streams", type=int, help="streams (default 10,000)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each")
    parser.add_argument("--database", default="bench_audit_chain", help="database name")
    parser.add_argument("--keep-db", action="store_true", help="leave the database afterwards")
    args = parser.parse_args(argv)
    args.events = args.events or (10_000 if args.quick else 100_000)
    args.streams = args.streams or (1_000 if args.quick else 10_000)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = common.bench_database_url(args.database)
    common.use_bench_database(url)
    common.terminate_on_sigterm()
    info = common.machine_info()
    print(f"bench/audit_chain.py on {info['cores']} cores ({info['cpu']}), Python {info['python']}")
    print(f"started {info['date']}; load average {common.load_average()}; database {url}")
    try:
        import django
        from django.core.management import call_command

        common.recreate_database(url)
        django.setup()
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        count = seed(events=args.events, streams=args.streams)
        print(f"seeded {count:,} events in {time.perf_counter() - started:.1f} s", flush=True)
        _, problems = time_verify()  # warm-up, and the seed must verify
        if problems:
            raise SystemExit(f"the seeded trail does not verify: {problems} problems")
        verify, raw = [], []
        for round_number in range(args.rounds):
            raw_s, bad = time_raw()
            verify_s, problems = time_verify()
            if bad or problems:
                raise SystemExit("the trail changed during the benchmark")
            raw.append(raw_s)
            verify.append(verify_s)
            print(
                f"  round {round_number + 1}/{args.rounds}: verify {verify_s:.2f} s, "
                f"raw {raw_s:.2f} s",
                flush=True,
            )
        results = tamper_cases(args.streams, args.events // args.streams)
        verify_s, raw_s = statistics.median(verify), statistics.median(raw)
        detected = sum(r["exact"] for r in results)
        print(
            f"\n{count:,} events in {args.streams:,} streams: verify {verify_s:.2f} s "
            f"(target < 30 s), raw {raw_s:.2f} s; tampering found at the exact place "
            f"{detected}/{len(results)}"
        )
        print(
            f"RESULT audit_chain verify_s={verify_s:.3f} raw_s={raw_s:.3f} baseline={raw_s:.3f} "
            f"ratio={verify_s / raw_s:.3f} tamper_detected={detected}/{len(results)}"
        )
        return 0 if detected == len(results) else 1
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            common.drop_database(url)


if __name__ == "__main__":
    raise SystemExit(main())
