"""Benchmark: award letters through real Celery workers against WeasyPrint alone.

Creates its own PostgreSQL database (dropped and recreated each run), seeds one program and
ready-to-decide applications, approves them through `vouchers.services.application_approve`
(which creates each pending AwardLetter with its frozen snapshot), then, in the same run:

- **celery**: queues `award_letter_render_task` for every letter to a real
  `celery -A config worker` (prefork, one process per core, prefetch multiplier 1) on Redis,
  and times from the first `delay()` to the moment the last letter is READY in the database:
  task -> award_letter_render -> letter_html -> WeasyPrint -> storage -> SHA-256 -> DB, audit,
  notification;
- **direct**: renders the same letters' HTML (`vouchers.documents.letter_html`, made before
  timing) with WeasyPrint as `html_to_pdf` does, in a multiprocessing pool of as many processes;
- **latency**: with the workers idle, approves one application at a time (the real service call,
  committed) and polls the database until its letter is READY.

    python bench/letters.py            # 200 letters in 4 rounds, 8 latency samples
    python bench/letters.py --quick    # 20 letters in 1 round, 5 latency samples: under a minute
    python bench/letters.py --profile  # also: where each worker process spends a letter's time

Every process renders one letter before anything is timed: the pool in its initializer, each
worker process through one warm-up task. The broker is Redis database 12 on 127.0.0.1:6379
(--redis, --redis-db): it must be empty, since it is flushed on exit; the database, the worker,
the pool and the PDFs are removed on exit, error, Ctrl-C or SIGTERM.

Ends with exactly one line:
    RESULT letters celery_lps=... direct_lps=... latency_median_s=... latency_max_s=...
        baseline=<direct_lps> ratio=<celery_lps / direct_lps>
Targets (DESIGN, "Non-functional targets"): ratio >= 0.85; latency < 2 s.
"""

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from celery import shared_task  # noqa: E402

from bench import common  # noqa: E402

DEFAULT_REDIS = "redis://127.0.0.1:6379"
WARM_UP_TASK = "bench.letters.warm_up"
POLL_SECONDS = 0.01
CITIES = ["上海", "北京", "深圳", "杭州", "苏州", "南京", "成都", "武汉"]
WORDS = ["星河", "云帆", "智源", "深算", "天枢", "昆仑", "灵犀", "启明", "九章", "青鸾", "玄武"]
TOPICS = [
    "Legal LLM for contract review",
    "Protein folding for drug discovery",
    "Speech recognition for dialects",
    "Medical imaging for radiology",
    "Code assistant for manufacturing software",
    "Climate downscaling for agriculture",
]


# --- Warm-up in the worker (this module is imported by the worker with --include) -------------


@shared_task(name=WARM_UP_TASK, ignore_result=True)
def warm_up_task(*, snapshot: dict, language: str, marker_dir: str, expected: int) -> None:
    """Render one letter in this worker process (fonts, templates, WeasyPrint's caches) and open
    its database connection; then hold the process until every process has done the same, so
    that each of the `expected` processes takes exactly one warm-up task."""
    from django.db import connection

    from vouchers.documents import render_award_letter

    render_award_letter(snapshot, language)
    connection.ensure_connection()
    Path(marker_dir, str(os.getpid())).touch()
    deadline = time.monotonic() + 180
    while len(os.listdir(marker_dir)) < expected and time.monotonic() < deadline:
        time.sleep(0.05)


# --- --profile: what each worker process spends its time on ----------------------------------

TRACE_ENV = "BENCH_LETTERS_TRACE_DIR"
STAGES = {  # (module, attribute) -> stage name; the rest of a task's time is "other"
    ("vouchers.services.letters", "_claim"): "claim transaction",
    ("vouchers.documents", "letter_html"): "letter HTML (template, QR)",
    ("vouchers.documents", "html_to_pdf"): "WeasyPrint",
    ("django.core.files.storage.FileSystemStorage", "save"): "storage write",
    ("django.core.files.storage.FileSystemStorage", "exists"): "storage write",
    ("vouchers.services.letters", "audit_record"): "audit event",
    ("vouchers.services.letters", "_notify_ready"): "letter-ready email (render, outbox row)",
}
_trace: dict[str, Any] = {}


def _timed(stage: str, function: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        active = _trace.setdefault("active", set())
        if stage in active:  # nested (save() calls exists()): counted once, by the outer call
            return function(*args, **kwargs)
        active.add(stage)
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            active.discard(stage)
            stages = _trace.setdefault("stages", {})
            stages[stage] = stages.get(stage, 0.0) + time.perf_counter() - started

    return wrapper


def _install_trace(trace_dir: str) -> None:
    """Record, per task, its wall time and the time spent in each stage of the letter service.
    Only with --profile: the measured figures of a normal run come without any of this."""
    import importlib

    from celery.signals import task_postrun, task_prerun

    for (module_name, attribute), stage in STAGES.items():
        module_path, _, class_name = module_name.rpartition(".")
        if class_name[:1].isupper():
            owner = getattr(importlib.import_module(module_path), class_name)
        else:
            owner = importlib.import_module(module_name)
        setattr(owner, attribute, _timed(stage, getattr(owner, attribute)))

    def prerun(task: Any = None, kwargs: Any = None, **_: Any) -> None:
        _trace.clear()
        _trace.update(start=time.time(), task=task.name, letter_id=(kwargs or {}).get("letter_id"))

    def postrun(**_: Any) -> None:
        _trace["end"] = time.time()
        _trace.pop("active", None)
        with open(Path(trace_dir, f"{os.getpid()}.jsonl"), "a") as out:
            out.write(json.dumps({**_trace, "pid": os.getpid()}) + "\n")

    task_prerun.connect(prerun, weak=False)
    task_postrun.connect(postrun, weak=False)


if os.environ.get(TRACE_ENV) and "worker" in sys.argv:  # imported by the worker (--include)
    from celery.signals import worker_process_init

    worker_process_init.connect(lambda **_: _install_trace(os.environ[TRACE_ENV]), weak=False)


def profile_report(trace_dir: Path, windows: list[tuple[float, float, list[int]]]) -> None:
    """Mean time per letter in each stage inside the workers, and how busy each worker process
    was during the timed Celery windows (the rest is dispatch: broker, prefetch, acks)."""
    records = []
    for path in trace_dir.glob("*.jsonl"):
        records += [json.loads(line) for line in path.read_text().splitlines() if line]
    measured = {i for _start, _end, ids in windows for i in ids}
    letters = [
        r
        for r in records
        if r["task"].endswith("award_letter_render_task") and r.get("letter_id") in measured
    ]
    if not letters:
        print("profile: no trace records")
        return
    totals: dict[str, float] = {}
    for record in letters:
        task = record["end"] - record["start"]
        staged = sum(record.get("stages", {}).values())
        for stage, seconds in record.get("stages", {}).items():
            totals[stage] = totals.get(stage, 0.0) + seconds
        totals["other (ORM final transaction, task wrapper, SHA-256)"] = (
            totals.get("other (ORM final transaction, task wrapper, SHA-256)", 0.0) + task - staged
        )
    whole = sum(r["end"] - r["start"] for r in letters)
    rows = [
        [stage, seconds * 1000 / len(letters), Decimal(f"{100 * seconds / whole:.1f}")]
        for stage, seconds in sorted(totals.items(), key=lambda kv: -kv[1])
    ]
    rows.append(["whole task", whole * 1000 / len(letters), Decimal("100.0")])
    print(f"\nprofile of {len(letters)} letter tasks inside the worker processes (--profile):")
    print(common.table(["stage", "ms/letter", "% of task"], rows))
    busy, span, other_tasks = 0.0, 0.0, 0.0
    pids = {r["pid"] for r in records}
    for start, end, _ids in windows:
        span += (end - start) * len(pids)
        for r in records:
            overlap = max(0.0, min(end, r["end"]) - max(start, r["start"]))
            busy += overlap
            if not r["task"].endswith("award_letter_render_task"):
                other_tasks += overlap
    print(
        f"worker processes busy in tasks {100 * busy / span:.1f} % of the timed Celery windows "
        f"({100 * other_tasks / span:.1f} % in other tasks: emails); the rest is waiting for "
        "the next task (broker round trip, prefetch, ack) or the last letters' tail"
    )


# --- Direct WeasyPrint in a multiprocessing pool ----------------------------------------------

_BASE_URL = ""


def _pool_init(warm_html: str, base_url: str, marker_dir: str) -> None:
    """Each pool process renders the warm-up letter once before anything is timed."""
    global _BASE_URL
    _BASE_URL = base_url
    _pool_render(warm_html)
    Path(marker_dir, str(os.getpid())).touch()


def _pool_render(html: str) -> int:
    from weasyprint import HTML  # as vouchers.documents.html_to_pdf

    return len(HTML(string=html, base_url=_BASE_URL).write_pdf() or b"")


# --- Seeding ----------------------------------------------------------------------------------


@dataclass
class Seeded:
    approver: Any
    letter_ids: list[int]  # rendered in the throughput rounds
    warm_up_letter_id: int
    latency_application_ids: list[int]  # approved one at a time in the latency phase
    counts: dict[str, int] = field(default_factory=dict)


def _organizations(n: int, now: Any) -> tuple[list[Any], list[Any]]:
    """n organizations with Chinese legal names, each with an owner (half prefer Chinese)."""
    from accounts.models import User
    from applicants.models import Membership, Organization
    from bench.pages import uscc

    owners = User.objects.bulk_create(
        User(
            email=f"founder{i}@letters.bench.example",
            full_name=f"Founder {i}",
            password="!bench-unusable",  # noqa: S106  ("!" marks an unusable password)
            role=User.Role.APPLICANT,
            preferred_language="zh-hans" if i % 2 else "en",
            email_verified_at=now,
        )
        for i in range(n)
    )
    orgs = Organization.objects.bulk_create(
        Organization(
            legal_name=f"{CITIES[i % len(CITIES)]}{WORDS[i % len(WORDS)]}"
            f"{WORDS[(i // len(WORDS)) % len(WORDS)]}智能科技有限公司",
            registration_number=uscc(i + 1),
            region="CN-SH",
            address=f"{100 + i} Zhangjiang Road, Pudong, Shanghai",
            incorporated_on=(now - timedelta(days=400 + i)).date(),
            headcount=20 + i % 200,
            annual_revenue_cents=1_000_000_00,
            created_by=owner,
        )
        for i, owner in enumerate(owners)
    )
    Membership.objects.bulk_create(
        Membership(organization=org, user=owner, role=Membership.Role.OWNER)
        for org, owner in zip(orgs, owners, strict=True)
    )
    return orgs, owners


def seed(*, letters: int, latency: int) -> Seeded:
    """One program; letters + latency + 1 applications in review and ready for a decision, each
    with its submitted version and the approver's no-conflict declaration; then approve
    letters + 1 of them through the real service (the extra one is the warm-up letter)."""
    from django.utils import timezone

    from accounts.models import User
    from applicants.models import Application, ApplicationVersion
    from disbursement.models import Provider
    from vouchers import services
    from vouchers.models import AwardLetter, ConflictDeclaration, Program

    now = timezone.now()
    total = letters + latency + 1
    approver = User.objects.create_user(
        email="approver@letters.bench.example",
        password=None,
        full_name="Wang Fang 王芳",
        role=User.Role.APPROVER,
        email_verified_at=now,
    )
    provider = Provider.objects.create(
        short_name="Bench DC",
        legal_name="Bench Data Centre Co., Ltd.",
        registration_number="91310000MA1FL8TQ3X",
        region="CN-SH",
        chip_origins=["domestic", "foreign"],
    )
    program = Program.objects.create(
        code="BL-2026",
        slug="bench-letters-2026",
        name="Shanghai Compute Voucher Program 2026",
        name_zh="上海市算力券项目 2026",
        region="CN-SH",
        currency="CNY",
        budget_cents=total * 280_000_00,
        allowed_regions=["CN-SH"],
        opens_at=now - timedelta(days=30),
        closes_at=now + timedelta(days=30),
        is_published=True,
        authority_name="Shanghai Municipal Commission of Economy and Informatization",
        authority_name_zh="上海市经济和信息化委员会",
        authority_address="200 Renmin Avenue, Huangpu District, Shanghai",
        signatory_name="Zhang Hua 张华",
        signatory_title="Director, Compute Voucher Program Office",
        signatory_title_zh="算力券项目办公室主任",
        terms="Vouchers pay approved providers only, for compute used within the validity.",
        terms_zh="算力券仅用于在有效期内向经认定的算力服务商支付算力费用。",
    )
    program.approved_providers.set([provider])
    orgs, owners = _organizations(total, now)
    applications = Application.objects.bulk_create(
        Application(
            organization=org,
            program=program,
            reference=f"{program.code}-{i + 1:06d}",
            status=Application.Status.IN_REVIEW,
            version=1,
            currency="CNY",
            title=TOPICS[i % len(TOPICS)],
            summary="Train and evaluate models on domestic accelerators.",
            gpu_hours=40_000,
            gpu_model="Ascend 910B",
            chip_origin="domestic",
            intended_provider=provider,
            requested_amount_cents=(1_400 + (i * 37) % 1_400) * 100_00,
            declares_truthful=True,
            declares_no_double_funding=True,
            declares_no_provider_affiliation=True,
            declared_by_name=owner.full_name,
            declared_at=now,
            submitted_at=now - timedelta(days=3),
            reviews_completed=1,
            ready_for_decision=True,
            created_by=owner,
        )
        for i, (org, owner) in enumerate(zip(orgs, owners, strict=True))
    )
    ApplicationVersion.objects.bulk_create(
        ApplicationVersion(
            application=app,
            number=1,
            receipt_number=f"{app.reference}-V1",
            snapshot={"title": app.title},
            content_sha256="0" * 64,
            submitted_at=app.submitted_at,
            submitted_by=owner,
        )
        for app, owner in zip(applications, owners, strict=True)
    )
    ConflictDeclaration.objects.bulk_create(
        ConflictDeclaration(application=app, officer=approver, has_conflict=False)
        for app in applications
    )
    started = time.perf_counter()
    for app in applications[: letters + 1]:
        services.application_approve(
            actor=approver, application_id=app.pk, amount_cents=app.requested_amount_cents
        )
    approve_ms = (time.perf_counter() - started) * 1000 / (letters + 1)
    ids = list(
        AwardLetter.objects.filter(voucher__application__in=applications[: letters + 1])
        .order_by("voucher__application_id")
        .values_list("pk", flat=True)
    )
    return Seeded(
        approver=approver,
        letter_ids=ids[1:],
        warm_up_letter_id=ids[0],
        latency_application_ids=[app.pk for app in applications[letters + 1 :]],
        counts={"letters": letters, "latency": latency, "approve_ms": round(approve_ms)},
    )


# --- Broker -----------------------------------------------------------------------------------


class Broker:
    """The run's private Redis database: the default queue `celery`, as in production, so that
    what the workers queue themselves (emails) stays in it. It must be empty at the start; it
    is flushed on exit."""

    queue = "celery"

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self.redis = redis.Redis.from_url(url)
        if self.redis.dbsize():
            raise SystemExit(
                f"Redis database {url} is not empty: someone else may be using it; "
                "choose a free one with --redis-db"
            )

    def purge(self) -> int:
        """Drop the queued messages (the seeding's approvals published theirs with no worker)."""
        keys = [k for k in self.redis.scan_iter(match=f"{self.queue}*") if b"pidbox" not in k]
        dropped = sum(self.redis.llen(k) for k in keys if self.redis.type(k) == b"list")
        if keys:
            self.redis.delete(*keys)
        return dropped

    def queued(self) -> int:
        return int(self.redis.llen(self.queue))

    def cleanup(self) -> None:
        self.redis.flushdb()
        self.redis.close()


# --- Measuring --------------------------------------------------------------------------------


@dataclass
class Phase:
    letters: int = 0
    seconds: float = 0.0
    pdf_bytes: int = 0
    windows: list[tuple[float, float, list[int]]] = field(default_factory=list)  # wall clock

    @property
    def lps(self) -> float:
        return self.letters / self.seconds if self.seconds else 0.0


def letter_htmls(ids: list[int]) -> tuple[dict[int, str], float]:
    """Each letter's HTML as the worker makes it; and the mean time to make one, in ms."""
    from vouchers.documents import letter_html
    from vouchers.models import AwardLetter

    letters = AwardLetter.objects.filter(pk__in=ids).only("pk", "snapshot", "language")
    started = time.perf_counter()
    htmls = {letter.pk: letter_html(letter.snapshot, letter.language) for letter in letters}
    return htmls, (time.perf_counter() - started) * 1000 / max(1, len(htmls))


def wait_for_ready(ids: list[int], *, timeout: float, poll: float) -> float:
    """Poll every `poll` seconds until every letter is READY; the time.time() it was seen so."""
    from django.db.models import Count

    from vouchers.models import AwardLetter

    deadline = time.monotonic() + timeout
    while True:
        statuses = dict(
            AwardLetter.objects.filter(pk__in=ids)
            .order_by()
            .values_list("status")
            .annotate(n=Count("pk"))
        )
        seen = time.time()
        if statuses.get(AwardLetter.Status.READY, 0) == len(ids):
            return seen
        if statuses.get(AwardLetter.Status.FAILED):
            failed = AwardLetter.objects.filter(pk__in=ids, status=AwardLetter.Status.FAILED)
            raise SystemExit(f"letters failed: {list(failed.values_list('pk', 'last_error')[:3])}")
        if time.monotonic() > deadline:
            raise SystemExit(f"letters not ready after {timeout:.0f} s: {statuses}")
        time.sleep(poll)


def wait_idle(broker: Broker, worker: Any, *, timeout: float = 120) -> None:
    """Until the queue is empty and no letter-ready email is waiting: the workers are idle."""
    from notifications.models import Notification

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.alive():
            raise SystemExit(f"the Celery worker exited:\n{worker.tail()}")
        busy = Notification.objects.filter(
            kind="letter_ready",
            status__in=[Notification.Status.PENDING, Notification.Status.SENDING],
        ).exists()
        if broker.queued() == 0 and not busy:
            time.sleep(0.3)  # let the last task's ack and connection cleanup finish
            return
        time.sleep(0.05)
    raise SystemExit("the workers did not go idle")


def run_celery(ids: list[int], broker: Broker, worker: Any) -> Phase:
    """Queue one render task per letter, as approval does after commit; time from the first
    publish until the last letter is READY.

    The end is the last letter's `updated_at` (stamped by the worker's final save, just before
    its audit row, email row and commit: a few ms early), so that the bench process can poll
    slowly and leave the CPU to the workers; the poll only says when to look.
    """
    from django.db.models import Max, Sum

    from vouchers.models import AwardLetter
    from vouchers.tasks import award_letter_render_task

    wait_idle(broker, worker)
    started = time.time()
    for letter_id in ids:
        award_letter_render_task.delay(letter_id=letter_id)
    wait_for_ready(ids, timeout=60 + 10 * len(ids), poll=0.25)
    done = AwardLetter.objects.filter(pk__in=ids).aggregate(
        end=Max("updated_at"), size=Sum("size_bytes")
    )
    end = done["end"].timestamp()
    return Phase(len(ids), end - started, done["size"] or 0, [(started, end, ids)])


def run_direct(htmls: list[str], pool: Any) -> Phase:
    started = time.perf_counter()
    sizes = list(pool.imap_unordered(_pool_render, htmls, chunksize=1))
    return Phase(len(htmls), time.perf_counter() - started, sum(sizes))


def verify(ids: list[int]) -> None:
    """Every letter READY after one attempt, its stored file matching its SHA-256."""
    import hashlib

    from vouchers.models import AwardLetter

    for letter in AwardLetter.objects.filter(pk__in=ids):
        with letter.pdf.open("rb") as handle:
            data = handle.read()
        if letter.attempts != 1 or hashlib.sha256(data).hexdigest() != letter.sha256:
            raise SystemExit(f"letter {letter.pk}: attempts {letter.attempts}, hash mismatch?")


def measure_latency(seeded: Seeded, broker: Broker, worker: Any) -> tuple[list[float], float]:
    """Approve one application with the workers idle; seconds from the committed approval until
    its letter is READY. Also the mean approval call, in ms."""
    from vouchers import services
    from vouchers.models import AwardLetter

    latencies, approve_s = [], []
    for application_id in seeded.latency_application_ids:
        wait_idle(broker, worker)
        time.sleep(1.0)  # idle for a second, as between two approvals by a person
        started = time.time()
        services.application_approve(
            actor=seeded.approver, application_id=application_id, amount_cents=140_000_00
        )
        committed = time.time()  # on_commit has published the task by now
        letter_id = AwardLetter.objects.get(voucher__application_id=application_id).pk
        latencies.append(wait_for_ready([letter_id], timeout=60, poll=POLL_SECONDS) - committed)
        approve_s.append(committed - started)
    return latencies, statistics.mean(approve_s) * 1000


def prepare(args: argparse.Namespace, url: str) -> Seeded:
    from django.core.management import call_command

    started = time.perf_counter()
    common.recreate_database(url)
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    seeded = seed(letters=args.letters, latency=args.latency)
    print(
        f"seeded and approved {args.letters + 1} in {time.perf_counter() - started:.1f} s "
        f"({seeded.counts['approve_ms']} ms per approval)",
        flush=True,
    )
    return seeded


def start_processes(
    args: argparse.Namespace, warm: Any, warm_html: str, workdir: Path, env: dict[str, str]
) -> tuple[common.CeleryWorker, Any]:
    """The Celery worker and the multiprocessing pool, each process warmed up by rendering the
    warm-up letter once: the pool in its initializer, the worker through one warm-up task per
    process (each holds its process until all have rendered, so none takes two)."""
    from django.conf import settings
    from django.db import connections

    from config.celery import app

    worker = common.CeleryWorker(
        name=f"bench-letters-{os.getpid()}",
        concurrency=args.processes,
        log_path=workdir / "worker.log",
        include=["bench.letters"],
        env=env,
    )
    worker.__enter__()
    worker_markers, pool_markers = workdir / "warm-worker", workdir / "warm-pool"
    worker_markers.mkdir()
    pool_markers.mkdir()
    for _ in range(args.processes):
        app.send_task(
            WARM_UP_TASK,
            kwargs={
                "snapshot": warm.snapshot,
                "language": warm.language,
                "marker_dir": str(worker_markers),
                "expected": args.processes,
            },
        )
    connections.close_all()  # the forked pool must not share this process's connection
    pool = multiprocessing.get_context("fork").Pool(
        args.processes,
        initializer=_pool_init,
        initargs=(warm_html, str(settings.BASE_DIR), str(pool_markers)),
    )
    deadline = time.monotonic() + 180
    while len(os.listdir(worker_markers)) + len(os.listdir(pool_markers)) < 2 * args.processes:
        if not worker.alive() or time.monotonic() > deadline:
            pool.terminate()
            worker.stop()
            raise SystemExit(f"the Celery worker did not warm up:\n{worker.tail()}")
        time.sleep(0.05)
    return worker, pool


def run_rounds(
    args: argparse.Namespace,
    seeded: Seeded,
    htmls: dict[int, str],
    pool: Any,
    broker: Broker,
    worker: common.CeleryWorker,
) -> tuple[Phase, Phase]:
    """The letters split in rounds; each round renders its batch both ways, the order
    alternating, so that a passing disturbance on the machine does not hit one path only."""
    celery, direct = Phase(), Phase()
    batches = [seeded.letter_ids[r :: args.rounds] for r in range(args.rounds)]
    for number, batch in enumerate(batches):
        order = ("direct", "celery") if number % 2 == 0 else ("celery", "direct")
        for which in order:
            if which == "direct":
                phase, total = run_direct([htmls[i] for i in batch], pool), direct
            else:
                phase, total = run_celery(batch, broker, worker), celery
            total.letters += phase.letters
            total.seconds += phase.seconds
            total.pdf_bytes += phase.pdf_bytes
            total.windows += phase.windows
            print(
                f"  round {number + 1}/{args.rounds} {which}: {phase.letters} letters in "
                f"{phase.seconds:.2f} s = {phase.lps:.2f} letters/s",
                flush=True,
            )
    return celery, direct


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20 letters, 1 round, 5 samples")
    parser.add_argument("--letters", type=int, help="letters rendered each way (default 200)")
    parser.add_argument(
        "--rounds", type=int, help="rounds, letters split evenly; order alternates (default 4)"
    )
    parser.add_argument("--latency", type=int, help="approval-to-ready samples (default 8)")
    parser.add_argument(
        "--processes",
        type=int,
        default=common.cpu_count(),
        help="worker concurrency and pool size (default: cores)",
    )
    parser.add_argument(
        "--redis", default=DEFAULT_REDIS, help="Redis server (default 127.0.0.1:6379)"
    )
    parser.add_argument(
        "--redis-db",
        type=int,
        default=12,
        help="private Redis database number, must be empty (default 12)",
    )
    parser.add_argument(
        "--database", default="bench_letters", help="database name (dropped and recreated)"
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the database after the run")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="time the stages of each letter task inside the workers and print where the time "
        "goes (adds a little overhead: not for the recorded figures)",
    )
    args = parser.parse_args(argv)
    args.letters = args.letters or (20 if args.quick else 200)
    args.rounds = args.rounds or (1 if args.quick else 4)
    args.latency = args.latency or (5 if args.quick else 8)
    if args.letters < args.rounds:
        parser.error("need at least one letter per round")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = common.bench_database_url(args.database)
    common.use_bench_database(url)
    common.terminate_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="bench-letters-"))
    redis_url = f"{args.redis.rstrip('/')}/{args.redis_db}"
    # Read by config/settings/base.py when Django starts, here and in the worker: a real broker
    # (not eager), the benchmark's database, PDFs in a throw-away directory.
    env = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": url,
        "BENCH_DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_MEDIA_ROOT": str(workdir / "media"),
    }
    os.environ.update(env)
    info = common.machine_info()
    print(f"bench/letters.py on {info['cores']} cores ({info['cpu']}), Python {info['python']}")
    print(
        f"started {info['date']}; load average {common.load_average()}; database {url}; "
        f"broker {redis_url}",
        flush=True,
    )
    import django

    django.setup()
    broker: Broker | None = None
    worker: common.CeleryWorker | None = None
    pool: Any = None
    try:
        broker = Broker(redis_url)
        seeded = prepare(args, url)
        print(f"dropped the {broker.purge()} messages the seeding queued", flush=True)
        from vouchers.models import AwardLetter

        warm = AwardLetter.objects.get(pk=seeded.warm_up_letter_id)
        warm_html = letter_htmls([warm.pk])[0][warm.pk]  # loads the template: not timed below
        htmls, html_ms = letter_htmls(seeded.letter_ids)
        started = time.perf_counter()
        worker_env = dict(env)
        if args.profile:
            (workdir / "trace").mkdir()
            worker_env[TRACE_ENV] = str(workdir / "trace")
        worker, pool = start_processes(args, warm, warm_html, workdir, worker_env)
        wait_idle(broker, worker)
        print(
            f"worker and pool ({args.processes} processes each) started and warmed up in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        celery, direct = run_rounds(args, seeded, htmls, pool, broker, worker)
        verify(seeded.letter_ids)
        if args.profile:
            profile_report(workdir / "trace", celery.windows)
        latencies, approve_ms = measure_latency(seeded, broker, worker)
        load = common.load_average()
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        if worker is not None:
            worker.stop()
        if broker is not None:
            broker.cleanup()
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            common.drop_database(url)
        shutil.rmtree(workdir, ignore_errors=True)
    return report(args, celery, direct, latencies, approve_ms, html_ms, load)


def report(
    args: argparse.Namespace,
    celery: Phase,
    direct: Phase,
    latencies: list[float],
    approve_ms: float,
    html_ms: float,
    load: str,
) -> int:
    ratio = celery.lps / direct.lps
    print()
    print(
        common.table(
            ["path", "letters", "seconds", "letters/s", "ms/letter/process", "mean PDF KiB"],
            [
                [
                    name,
                    phase.letters,
                    Decimal(f"{phase.seconds:.2f}"),
                    Decimal(f"{phase.lps:.2f}"),
                    phase.seconds * 1000 * args.processes / phase.letters,
                    phase.pdf_bytes / phase.letters / 1024,
                ]
                for name, phase in (("celery", celery), ("direct", direct))
            ],
        )
    )
    ordered = sorted(latencies)
    print(
        f"\napproval -> letter READY with idle workers ({len(ordered)} samples): median "
        f"{statistics.median(ordered):.3f} s, max {ordered[-1]:.3f} s "
        f"(all: {', '.join(f'{x:.3f}' for x in ordered)}); the approval call itself "
        f"{approve_ms:.0f} ms"
    )
    print(f"letter HTML (template + QR code) in the bench process: {html_ms:.1f} ms per letter")
    print(f"load average at the end: {load}")
    print(
        f"\nratio celery/direct {ratio:.3f} (target >= 0.85): "
        + ("met" if ratio >= 0.85 else "NOT met")
        + f"; latency max {ordered[-1]:.3f} s (target < 2 s): "
        + ("met" if ordered[-1] < 2 else "NOT met")
    )
    print(
        f"RESULT letters celery_lps={celery.lps:.2f} direct_lps={direct.lps:.2f} "
        f"latency_median_s={statistics.median(ordered):.3f} latency_max_s={ordered[-1]:.3f} "
        f"baseline={direct.lps:.2f} ratio={ratio:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
