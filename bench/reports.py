"""Benchmark: the voucher register (reports/register.py), chunked in worker processes, against
WeasyPrint rendering the same rows as ONE document in one process.

Creates its own PostgreSQL database (dropped and recreated each run), migrates it and seeds with
COPY one program per size (10,000 and 100,000 vouchers; `--quick`: 1,000), organizations with
Chinese or English names (about two in three Chinese, some longer than the name column). Then,
for each size, each render in a fresh process so that its memory figures are its own:

- chunked: `render_voucher_register(workers=2, chunk_size=2000)`: the parent streams the rows,
  lays out the pages and merges; two spawned workers run WeasyPrint;
- one document: `render_voucher_register_one_document()`: the same snapshot, the same pages and
  HTML, one WeasyPrint document in one process (stopped if it passes --single-limit-mb).

It reports wall time and the peak resident memory (VmHWM) of every process: the parent, each
worker (reported by the worker itself), and the one-document process; and checks each output
(page count, totals against SQL sums, embedded CSV row count).

    python bench/reports.py             # 10,000 and 100,000 vouchers (about 10 minutes)
    python bench/reports.py --quick     # 1,000 vouchers: about a minute
    python bench/reports.py --sizes 10000 50000 --workers 2 --chunk-size 4000 --keep-db

Ends with exactly one line, for the largest size:
    RESULT reports chunked_s=... single_s=... baseline=<single_s> ratio=<single_s / chunked_s> \
        target=<workers x 0.8> max_process_mb=... single_mb=... vouchers=...
(single_s and ratio are "nan" if the one document did not fit under --single-limit-mb.) The
server is PostgreSQL from DATABASE_URL (another database name) or postgres@127.0.0.1:5432;
BENCH_DATABASE_URL names it outright.
"""

import argparse
import io
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

MB = 1024 * 1024
CITIES = ["深圳市", "上海", "北京", "杭州", "广州市", "苏州工业园区", "成都", "南京", "合肥"]
WORDS = ["智算", "深度求索", "星河", "云图", "天枢", "灵犀", "算力", "青禾", "极光", "数智"]
KINDS = ["科技有限公司", "人工智能有限公司", "信息技术股份有限公司", "智能科技研究院有限责任公司"]
LATIN = ["Deep Compute", "Bright Tensor", "Harbor AI", "Jade Robotics", "Nimbus Labs"]


def company_name(i: int, rng: random.Random) -> str:
    if i % 3 == 2:
        return f"{rng.choice(LATIN)} {i} (Shanghai) Co., Ltd."
    name = f"{rng.choice(CITIES)}{rng.choice(WORDS)}{i}{rng.choice(KINDS)}"
    return name * 2 if i % 17 == 0 else name  # some longer than the column


# --- Seeding ----------------------------------------------------------------------------------


def seed(sizes: list[int]) -> dict[int, int]:
    """One program per size with that many vouchers; returns {size: program id}."""
    from django.utils import timezone

    from accounts.models import User
    from applicants.models import Application, Organization
    from bench.reconcile import uscc, voucher_code
    from vouchers.models import Program, Voucher

    rng = random.Random(2026)  # noqa: S311  (reproducible data, not secrets)
    now = timezone.now()
    officer = User.objects.create_user(
        email="approver@bench.example", full_name="Bench Approver", role=User.Role.APPROVER
    )
    programs: dict[int, int] = {}
    next_id = 1
    for size in sizes:
        program = Program.objects.create(
            code=f"RG-{size}",
            slug=f"register-bench-{size}",
            name=f"Register bench, {size:,} vouchers",
            name_zh=f"登记册基准 {size:,}",
            region="CN-SH",
            currency="CNY",
            budget_cents=size * 300_000_00,
            opens_at=now - timedelta(days=400),
            closes_at=now - timedelta(days=340),
            is_published=True,
        )
        programs[size] = program.pk
        terms = program.terms_snapshot()
        for start in range(next_id, next_id + size, 5_000):
            stop = min(start + 5_000, next_id + size)
            orgs, apps, vouchers = [], [], []
            for i in range(start, stop):
                valid_from = now - timedelta(days=rng.randint(0, 300))
                cap = rng.randint(1_400, 2_800) * 100_00
                orgs.append(
                    Organization(
                        id=i,
                        legal_name=company_name(i, rng),
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
                        requested_amount_cents=cap,
                        created_by_id=officer.pk,
                        created_at=now,
                        updated_at=now,
                    )
                )
                spent = rng.randint(0, cap) if i % 5 else 0
                vouchers.append(
                    Voucher(
                        id=i,
                        code=voucher_code(i),
                        application_id=i,
                        program=program,
                        organization_id=i,
                        status=("exhausted" if spent == cap else "active") if spent else "issued",
                        currency="CNY",
                        cap_cents=cap,
                        spent_cents=spent,
                        rate_standard_bps=3000,
                        rate_domestic_bps=5000,
                        over_cap_policy="clamp",
                        terms=terms,
                        valid_from=valid_from,
                        valid_until=valid_from + timedelta(days=365),
                        issued_by_id=officer.pk,
                        created_at=valid_from,
                        updated_at=now,
                    )
                )
            common.copy_objects(orgs)
            common.copy_objects(apps)
            common.copy_objects(vouchers)
        next_id += size
    common.reset_sequences([Organization, Application, Voucher])
    common.vacuum_analyze()
    return programs


# --- One measured render (a child process) ----------------------------------------------------


def vm_hwm(pid: int | str = "self") -> int:
    """Peak resident memory of a process (VmHWM), in bytes; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(args: argparse.Namespace) -> None:
    """Run one render in this (fresh) process and print its figures as one JSON line."""
    import django

    django.setup()
    from django.db.models import Sum
    from pypdf import PdfReader

    from reports import register
    from vouchers.models import Voucher

    started = time.perf_counter()
    if args.measure == "chunked":
        result = register.render_voucher_register(
            program_id=args.program_id, workers=args.workers, chunk_size=args.chunk_size
        )
    else:
        result = register.render_voucher_register_one_document(program_id=args.program_id)
    seconds = time.perf_counter() - started
    parent_peak = vm_hwm()
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )  # the workers have exited and been waited for: their CPU time is in RUSAGE_CHILDREN
    # Check what came out (not timed).
    reader = PdfReader(io.BytesIO(result.pdf))
    sums = Voucher.objects.filter(program_id=args.program_id).aggregate(
        cap=Sum("cap_cents"), spent=Sum("spent_cents")
    )
    (data,) = reader.attachments[register.CSV_NAME]
    checks = {
        "pages": len(reader.pages) == result.pages,
        "totals": result.totals["cap_cents"] == sums["cap"]
        and result.totals["spent_cents"] == sums["spent"],
        "csv_rows": data.count(b"\n") == result.vouchers + 1,
        "pdfa": b'pdfaid:part="3"' in reader.trailer["/Root"]["/Metadata"].get_data(),
    }
    print(
        "MEASURED "
        + json.dumps(
            {
                "mode": args.measure,
                "seconds": seconds,
                "parent_cpu": own.ru_utime + own.ru_stime,
                "workers_cpu": children.ru_utime + children.ru_stime,
                "parent_peak": parent_peak,
                "workers": {str(k): v for k, v in result.worker_peak_rss.items()},
                "pages": result.pages,
                "vouchers": result.vouchers,
                "pdf_bytes": len(result.pdf),
                "csv_bytes": len(result.csv),
                "checks": checks,
            }
        ),
        flush=True,
    )


def run_measure(
    args: argparse.Namespace, mode: str, program_id: int, limit_mb: int | None
) -> dict[str, Any]:
    """Run `measure` in a fresh process; stop it if it passes `limit_mb` resident."""
    command = [
        sys.executable,
        __file__,
        "--measure",
        mode,
        "--program-id",
        str(program_id),
        "--workers",
        str(args.workers),
        "--chunk-size",
        str(args.chunk_size),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    peak_seen = 0
    killed = False
    while process.poll() is None:
        peak_seen = max(peak_seen, vm_hwm(process.pid))
        if limit_mb and peak_seen > limit_mb * MB:
            process.kill()
            killed = True
            break
        time.sleep(0.2)
    out, _err = process.communicate()
    if killed:
        return {"mode": mode, "killed": True, "peak_seen": peak_seen}
    if process.returncode != 0:
        raise SystemExit(f"the {mode} render failed (exit {process.returncode})")
    line = next(row for row in out.splitlines() if row.startswith("MEASURED "))
    figures: dict[str, Any] = json.loads(line[len("MEASURED ") :])
    if not all(figures["checks"].values()):
        raise SystemExit(f"the {mode} render is wrong: {figures['checks']}")
    return figures


# --- Main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1,000 vouchers only")
    parser.add_argument("--sizes", type=int, nargs="+", help="register sizes (10000 100000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--chunk-size", type=int, default=2000, help="rows per chunk (2000)")
    parser.add_argument(
        "--single-limit-mb",
        type=int,
        default=12_000,
        help="stop the one-document render above this resident size (default 12,000)",
    )
    parser.add_argument("--database", default="bench_reports", help="database name")
    parser.add_argument("--keep-db", action="store_true", help="leave the database afterwards")
    parser.add_argument("--measure", choices=["chunked", "single"], help=argparse.SUPPRESS)
    parser.add_argument("--program-id", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sizes = args.sizes or ([1_000] if args.quick else [10_000, 100_000])
    return args


def mb(value: float) -> float:
    return value / MB


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = common.bench_database_url(args.database)
    common.use_bench_database(url)
    if args.measure:
        measure(args)
        return 0
    common.terminate_on_sigterm()
    info = common.machine_info()
    print(f"bench/reports.py on {info['cores']} cores ({info['cpu']}), Python {info['python']}")
    print(f"started {info['date']}; load average {common.load_average()}; database {url}")
    started_all = time.perf_counter()
    try:
        import django
        from django.core.management import call_command

        started = time.perf_counter()
        common.recreate_database(url)
        django.setup()
        call_command("migrate", verbosity=0)
        print(f"migrated in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        programs = seed(args.sizes)
        print(f"seeded {sum(args.sizes):,} vouchers in {time.perf_counter() - started:.1f} s")
        from django.db import connections

        connections.close_all()
        rows: list[list[Any]] = []
        summary: dict[int, dict[str, Any]] = {}
        for size in args.sizes:
            chunked = run_measure(args, "chunked", programs[size], None)
            print(f"  {size:,}: chunked {chunked['seconds']:.1f} s", flush=True)
            single = run_measure(args, "single", programs[size], args.single_limit_mb)
            if single.get("killed"):
                print(
                    f"  {size:,}: one document stopped above {args.single_limit_mb:,} MB "
                    f"(seen {mb(single['peak_seen']):,.0f} MB)",
                    flush=True,
                )
            else:
                print(f"  {size:,}: one document {single['seconds']:.1f} s", flush=True)
            worker_peaks = sorted(chunked["workers"].values(), reverse=True)
            rows.append(
                [
                    f"{size:,}",
                    f"chunked, {args.workers} workers",
                    chunked["seconds"],
                    f"{chunked['parent_cpu']:.1f} + {chunked['workers_cpu']:.1f}",
                    mb(chunked["parent_peak"]),
                    " / ".join(f"{mb(v):,.0f}" for v in worker_peaks),
                    chunked["pages"],
                    mb(chunked["pdf_bytes"]),
                ]
            )
            if single.get("killed"):
                rows.append(
                    [
                        f"{size:,}",
                        "one document",
                        "stopped",
                        "",
                        mb(single["peak_seen"]),
                        "",
                        "",
                        "",
                    ]
                )
            else:
                rows.append(
                    [
                        f"{size:,}",
                        "one document",
                        single["seconds"],
                        f"{single['parent_cpu']:.1f}",
                        mb(single["parent_peak"]),
                        "",
                        single["pages"],
                        mb(single["pdf_bytes"]),
                    ]
                )
            summary[size] = {"chunked": chunked, "single": single, "workers": worker_peaks}
        print()
        print(
            common.table(
                [
                    "vouchers",
                    "render",
                    "wall s",
                    "CPU s (parent + workers)",
                    "parent MB",
                    "workers MB",
                    "pages",
                    "PDF MB",
                ],
                rows,
            )
        )
        print()
        for size, figures in summary.items():
            single_s = figures["single"].get("seconds")
            ratio = single_s / figures["chunked"]["seconds"] if single_s else float("nan")
            print(
                f"  {size:,} vouchers: one document / chunked = {ratio:.2f} "
                f"(target {args.workers * 0.8:.1f})"
            )
            if single_s:  # what the chunking itself costs, whatever else runs on the machine
                chunked_cpu = figures["chunked"]["parent_cpu"] + figures["chunked"]["workers_cpu"]
                single_cpu = figures["single"]["parent_cpu"]
                print(
                    f"  {size:,} vouchers: CPU seconds, one document {single_cpu:.1f}, chunked "
                    f"{chunked_cpu:.1f} (parent {figures['chunked']['parent_cpu']:.1f})"
                )
        print(
            f"finished after {time.perf_counter() - started_all:.0f} s; load average "
            f"{common.load_average()}"
        )
        size = max(args.sizes)
        figures = summary[size]
        single_s = figures["single"].get("seconds", float("nan"))
        chunked_s = figures["chunked"]["seconds"]
        max_process = max([figures["chunked"]["parent_peak"], *figures["workers"]])
        single_mb = figures["single"].get("parent_peak") or figures["single"].get("peak_seen", 0)
        print(
            f"RESULT reports chunked_s={chunked_s:.2f} single_s={single_s:.2f} "
            f"baseline={single_s:.2f} ratio={single_s / chunked_s:.2f} "
            f"target={args.workers * 0.8:.1f} max_process_mb={mb(max_process):.0f} "
            f"single_mb={mb(single_mb):.0f} vouchers={size}"
        )
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            common.drop_database(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
