"""M/J2-J3: a real Celery worker SIGKILLed while it renders award letters.

Twenty applications are approved (twenty letters queued through a private Redis); a real
`celery worker` (prefork, 2 processes, the project's settings: acks_late,
reject_on_worker_lost, prefetch 1) renders them. While letters are rendering, both pool
processes are SIGKILLed three times; then the whole worker's process group is SIGKILLed; a new
worker and beat (sweeps every 2 s) take over. Afterwards every letter exists exactly once: one
READY row per voucher and version, one stored file with the recorded SHA-256, one
"letter rendered" audit event, nothing lost.

LETTER_STALE_SECONDS is 10 s here (300 s in production): the sweep takes over a letter whose
worker died after that long. The killed worker's unacknowledged messages stay invisible in Redis
for the visibility timeout (an hour, kombu's default): the sweep, not Redis, recovers them.
"""

import hashlib
import io
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from pypdf import PdfReader

from audit.models import AuditAction, AuditEvent
from tests.factories import UserFactory
from tests.faults.conftest import db_url_for_processes
from tests.faults.procs import (
    Process,
    celery_beat,
    celery_worker,
    children_of,
    django_env,
    wait_for,
)
from tests.faults.procs import kill as sigkill
from tests.faults.seeding import program_with_providers, ready_application
from vouchers import services as voucher_services
from vouchers.models import AwardLetter

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LETTERS = 20
CHILD_KILLS = 3
STALE_SECONDS = 10


def _statuses() -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for pk, status in AwardLetter.objects.order_by("pk").values_list("pk", "status"):
        out.setdefault(status, []).append(pk)
    return out


def _rendering(since: Any = None) -> list[int]:
    """Letters being rendered; with `since`, only those claimed after it (claims left by a
    process killed earlier stay RENDERING until they are taken back, and are not in flight)."""
    qs = AwardLetter.objects.filter(status=AwardLetter.Status.RENDERING)
    if since is not None:
        qs = qs.filter(claimed_at__gt=since)
    return list(qs.order_by("pk").values_list("pk", flat=True))


def _ready_count() -> int:
    return AwardLetter.objects.filter(status=AwardLetter.Status.READY).count()


def _pool_children(worker: Process, expected: int, timeout: float = 30) -> list[int]:
    """The worker's pool processes, once there are `expected` of them (after a restart)."""
    found: list[int] = []

    def enough() -> bool:
        nonlocal found
        found = children_of(worker.pid)
        return len(found) >= expected

    assert wait_for(enough, timeout=timeout), f"pool not up:\n{worker.tail()}"
    return found


def _wait_mid_render(worker: Process, since: Any, timeout: float = 60) -> list[int]:
    """Wait until a letter claimed after `since` is being rendered, and still is 0.1 s later
    (the kill then lands inside WeasyPrint rather than in the claim's commit)."""
    found: list[int] = []

    def mid_render() -> bool:
        nonlocal found
        if not _rendering(since):
            return False
        time.sleep(0.1)
        found = _rendering(since)
        return bool(found)

    assert wait_for(mid_render, timeout=timeout, interval=0.02), (
        f"no letter started rendering: {_statuses()}\n{worker.tail()}"
    )
    return found


def _outcome(letter_ids: list[int], files: dict[str, bytes]) -> dict[str, Any]:
    """For the letters in flight at a fault: how many ended lost, duplicated, re-executed."""
    letters = AwardLetter.objects.filter(pk__in=letter_ids)
    events = AuditEvent.objects.filter(action=AuditAction.LETTER_RENDERED)
    lost = [x.pk for x in letters if x.status != AwardLetter.Status.READY]
    duplicated = []
    for letter in letters:
        name = Path(letter.pdf.name or f"letters/{letter.reference}.pdf").name
        stem = name.removesuffix(".pdf")
        # Django stores a second file under the same name as "<stem>_<random>.pdf".
        stored = [n for n in files if Path(n).name == name or Path(n).name.startswith(stem + "_")]
        rendered = events.filter(data__letter=letter.reference).count()
        if len(stored) > 1 or rendered > 1:
            duplicated.append(letter.pk)
    return {
        "in_flight": letter_ids,
        "lost": len(lost),
        "duplicated": len(duplicated),
        "attempts": {x.pk: x.attempts for x in letters},
        # The redelivered task keeps its task id as claim token; the sweep claims with none.
        "finished_by": {x.pk: "redelivered task" if x.claim_token else "sweep" for x in letters},
    }


def test_worker_killed_mid_render_every_letter_exists_exactly_once(
    figures, workdir, broker, processes
):
    media = Path(settings.MEDIA_ROOT)
    media.mkdir(parents=True, exist_ok=True)
    seeded = time.monotonic()
    admin = UserFactory(role="admin")
    approver, reviewer = UserFactory(role="approver"), UserFactory(role="reviewer")
    program = program_with_providers(admin=admin, providers=1, label="WK")
    provider = program.approved_providers.get()
    apps = [
        ready_application(
            program=program, provider=provider, reviewer=reviewer, admin=admin, approver=approver
        )
        for _ in range(LETTERS)
    ]
    figures["seed_seconds"] = round(time.monotonic() - seeded, 1)

    # Approvals commit and publish their letter tasks (and emails) to the private Redis.
    for app in apps:
        voucher_services.application_approve(
            actor=approver, application_id=app.pk, amount_cents=150_000_00
        )
    assert AwardLetter.objects.filter(status=AwardLetter.Status.PENDING).count() == LETTERS

    env = django_env(
        database_url=db_url_for_processes(),
        redis_url=broker,
        media_root=media,
        mail_dir=workdir / "mail",
        LETTER_STALE_SECONDS=str(STALE_SECONDS),
        FAULTS_SWEEP_SECONDS="2",
    )
    started = time.monotonic()
    worker = celery_worker("faults-a", env, workdir / "worker-a.log").start()
    processes.append(worker)

    faults: list[dict[str, Any]] = []
    since = timezone.now()
    for round_ in range(CHILD_KILLS):
        _pool_children(worker, expected=2)
        ready_before = _ready_count()
        in_flight = _wait_mid_render(worker, since)
        killed = [pid for pid in children_of(worker.pid) if sigkill(pid)]
        since = timezone.now()
        faults.append(
            {
                "fault": f"SIGKILL both pool processes (round {round_ + 1})",
                "at_s": round(time.monotonic() - started, 2),
                "pids": killed,
                "ids": in_flight,
                "ready_before": ready_before,
            }
        )
        # Progress before the next fault: the requeued letter (or another) gets finished.
        assert wait_for(lambda n=ready_before: _ready_count() > n, timeout=60, interval=0.05), (
            f"no progress after killing the pool: {_statuses()}\n{worker.tail()}"
        )
        assert worker.alive(), worker.tail()

    in_flight = _wait_mid_render(worker, since)
    ready_before = _ready_count()
    worker_pids = [worker.pid, *children_of(worker.pid)]
    worker.kill_group()  # SIGKILL main process and pool together, like a lost machine
    killed_at = time.monotonic()
    faults.append(
        {
            "fault": "SIGKILL the whole worker (process group)",
            "at_s": round(killed_at - started, 2),
            "pids": worker_pids,
            "ids": in_flight,
            "ready_before": ready_before,
        }
    )
    assert ready_before < LETTERS, "every letter was done before the worker was killed"
    time.sleep(2)

    # A new worker, and beat for the sweeps (every 2 s; a claim is stale after 10 s).
    replacement = celery_worker("faults-b", env, workdir / "worker-b.log").start()
    processes.append(replacement)
    beat = celery_beat(env, workdir).start()
    processes.append(beat)
    done = wait_for(lambda: _ready_count() == LETTERS, timeout=STALE_SECONDS + 90, interval=0.1)
    recovered_at = time.monotonic()
    assert done, (
        f"letters not all ready: {_statuses()}\n--- worker b\n{replacement.tail()}"
        f"\n--- beat\n{beat.tail()}"
    )
    time.sleep(2)  # anything still in flight (a sweep, a redelivery) would change things now

    # Exactly once: rows, files, hashes, audit events.
    letters = list(AwardLetter.objects.order_by("pk"))
    files = {str(p.relative_to(media)): p.read_bytes() for p in (media / "letters").rglob("*.pdf")}
    events = AuditEvent.objects.filter(action=AuditAction.LETTER_RENDERED)
    rendered_per_letter = {
        ref: events.filter(data__letter=ref).count() for ref in (x.reference for x in letters)
    }
    figures.update(
        {
            "letters": LETTERS,
            "worker": "celery prefork -c 2, prefetch 1, acks_late, reject_on_worker_lost",
            "faults": [
                {k: v for k, v in f.items() if k != "ids"} | _outcome(f["ids"], files)
                for f in faults
            ],
            "letters_ready": sum(x.status == AwardLetter.Status.READY for x in letters),
            "letters_lost": sum(x.status != AwardLetter.Status.READY for x in letters),
            "stored_files": len(files),
            "duplicate_files": len(files) - len({x.pdf.name for x in letters}),
            "render_attempts_total": sum(x.attempts for x in letters),
            "re_executions": sum(x.attempts for x in letters) - LETTERS,
            "whole_worker_kill_to_all_ready_s": round(recovered_at - killed_at, 1),
            "first_worker_start_to_all_ready_s": round(recovered_at - started, 1),
        }
    )
    assert len(letters) == LETTERS
    assert {(x.voucher_id, x.version) for x in letters} == {(x.voucher_id, 1) for x in letters}
    assert len({x.voucher_id for x in letters}) == LETTERS  # one letter per voucher
    assert figures["letters_lost"] == 0, _statuses()
    assert sorted(files) == sorted(x.pdf.name for x in letters), "stray or missing PDF files"
    for letter in letters:
        data = files[letter.pdf.name]
        assert hashlib.sha256(data).hexdigest() == letter.sha256, letter.reference
        assert letter.size_bytes == len(data)
        text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
        assert letter.reference in " ".join(text.split()), letter.reference
    assert set(rendered_per_letter.values()) == {1}, rendered_per_letter
    assert all(f["in_flight"] for f in figures["faults"]), "a fault hit no letter mid-render"
    assert all(f["lost"] == 0 and f["duplicated"] == 0 for f in figures["faults"])
