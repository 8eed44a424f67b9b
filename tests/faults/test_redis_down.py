"""J4 (and J5 without persistence): Redis down while applicants submit, officers approve and
providers claim.

The app runs in a real gunicorn (2 workers x 4 threads, the project's settings) whose REDIS_URL
points at a private Redis (no persistence). First, with Redis up and no worker, 10 applicants
submit (their email tasks wait in Redis). Redis is stopped, which loses those messages; then,
with 4 concurrent clients, 50 applicants each create, fill in, upload a document to and submit
an application through the API, an approver approves 10 reviewed applications (vouchers issued,
letters queued) and a provider claims 20 invoices against an active voucher. Every request must
answer without a 5xx within 2 s and every row must be committed; the emails and letters wait in
the database (outbox rows, pending letters). Redis is started again with a worker and beat
(sweeps every 2 s): everything is delivered, the emails whose messages Redis lost included,
each email once and each letter once.
"""

import hashlib
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.services import api_token_create
from applicants.models import Application
from disbursement.models import Claim, LedgerEntry
from notifications.models import Notification
from tests.factories import OrganizationFactory, UserFactory, pdf_bytes
from tests.faults.conftest import db_url_for_processes
from tests.faults.procs import (
    celery_beat,
    celery_worker,
    django_env,
    gunicorn,
    wait_for,
    wait_http_ok,
)
from tests.faults.seeding import (
    active_voucher,
    claim_body,
    program_with_providers,
    provider_client,
    ready_application,
)
from tests.faults.webclient import Answer, ApiClient, multipart
from vouchers.models import AwardLetter, Voucher

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

APPLICANTS = 50
APPROVALS = 10
CLAIMS = 20
CLIENTS = 4  # the server has 2 processes: more clients only measure queueing on 2 cores
BEFORE = 10  # applicants who submit while Redis is up (their email tasks die with Redis)
LIMIT_SECONDS = 2.0
CLAIM_CENTS = 20_000_00  # foreign chips at 30%: 6,000.00 each, 120,000.00 of 150,000.00


def _apply(port: int, token: str, org_id: int, program_id: int, provider_id: int) -> list[Answer]:
    """One applicant's journey: draft, answers, business licence, submit."""
    client = ApiClient(port, token)
    created = client.post_json(
        "/api/v1/applications/", {"organization": org_id, "program": program_id}
    )
    if created.status != 201:
        return client.log
    url = f"/api/v1/applications/{created.json['id']}/"
    client.patch_json(
        url,
        {
            "title": "Legal LLM",
            "summary": "Fine-tune a model for contract review.",
            "description": "Data, training, evaluation.",
            "gpu_hours": 46080,
            "gpu_model": "Ascend 910B",
            "chip_origin": "domestic",
            "compute_plan": "64 cards for 30 days.",
            "intended_provider": provider_id,
            "requested_amount": "180000.00",
            "declares_truthful": True,
            "declares_no_double_funding": True,
            "declares_no_provider_affiliation": True,
            "declared_by_name": "Li Wei",
        },
    )
    body, content_type = multipart(
        {"kind": "business_licence"}, {"file": ("licence.pdf", pdf_bytes(), "application/pdf")}
    )
    client.send("POST", f"{url}documents/", body, content_type)
    client.send("POST", f"{url}submit/")
    return client.log


def _approve(port: int, token: str, application_id: int) -> list[Answer]:
    client = ApiClient(port, token)
    base = f"/api/v1/applications/{application_id}/"
    if client.post_json(f"{base}conflict-declaration/", {"has_conflict": False}).status == 201:
        client.post_json(f"{base}approve/", {"amount": "150000.00"})
    return client.log


def _claim(port: int, token: str, code: str, n: int) -> list[Answer]:
    client = ApiClient(port, token)
    body = claim_body(code=code, reference=f"REDIS-DOWN-{n}", amount_cents=CLAIM_CENTS)
    client.send("POST", "/api/v1/claims/", body, "application/json")
    return client.log


def _mail_ids(mail_dir: Path) -> list[int]:
    """X-Notification-Id of every message the file email backend wrote (one per send)."""
    ids: list[int] = []
    for path in mail_dir.glob("*.log"):
        ids += [int(x) for x in re.findall(r"^X-Notification-Id: (\d+)$", path.read_text(), re.M)]
    return ids


def test_redis_down_requests_succeed_and_queued_work_catches_up(
    figures, workdir, redis_server, processes
):
    media, mail = Path(settings.MEDIA_ROOT), workdir / "mail"
    media.mkdir(parents=True, exist_ok=True)
    mail.mkdir()
    seeded = time.monotonic()
    admin, approver = UserFactory(role="admin"), UserFactory(role="approver")
    reviewer = UserFactory(role="reviewer")
    program = program_with_providers(admin=admin, providers=1, label="RD")
    provider = program.approved_providers.get()
    _staff, provider_token = provider_client(admin=admin, provider=provider)
    _token, approver_token = api_token_create(user=approver, name="fault test")
    # One active voucher for the claims (its letter rendered in-process: Celery is eager here).
    voucher = active_voucher(
        app=ready_application(
            program=program, provider=provider, reviewer=reviewer, admin=admin, approver=approver
        ),
        approver=approver,
    )
    to_approve = [
        ready_application(
            program=program,
            provider=provider,
            reviewer=reviewer,
            admin=admin,
            approver=approver,
            declare=False,
        ).pk
        for _ in range(APPROVALS)
    ]
    applicants = []
    for _ in range(BEFORE + APPLICANTS):
        founder = UserFactory()
        org = OrganizationFactory(owner=founder)
        applicants.append((api_token_create(user=founder, name="fault test")[1], org.pk))
    figures["seed_seconds"] = round(time.monotonic() - seeded, 1)

    env = django_env(
        database_url=db_url_for_processes(),
        redis_url=redis_server.url(),
        media_root=media,
        mail_dir=mail,
        FAULTS_SWEEP_SECONDS="2",
    )
    web = gunicorn(env, workdir / "gunicorn.log").start()
    processes.append(web)
    port: int = web.port  # type: ignore[attr-defined]
    wait_http_ok(web, port)

    # Baseline, Redis up (no worker yet): the email tasks wait in Redis, and die with it.
    up_at = timezone.now()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        jobs = [
            pool.submit(_apply, port, token, org_id, program.pk, provider.pk)
            for token, org_id in applicants[:BEFORE]
        ]
        baseline = [answer for job in jobs for answer in job.result()]
    assert all(a.status in (200, 201) for a in baseline), [a.status for a in baseline]
    queued_before = set(
        Notification.objects.filter(created_at__gte=up_at).values_list("pk", flat=True)
    )

    redis_server.stop()  # no persistence: the messages queued above are gone
    assert not redis_server.answers()
    down_at = timezone.now()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        jobs = [
            pool.submit(_apply, port, token, org_id, program.pk, provider.pk)
            for token, org_id in applicants[BEFORE:]
        ]
        jobs += [pool.submit(_approve, port, approver_token, pk) for pk in to_approve]
        jobs += [pool.submit(_claim, port, provider_token, voucher.code, n) for n in range(CLAIMS)]
        answers = [answer for job in jobs for answer in job.result()]
    load_seconds = time.monotonic() - started

    latencies = sorted(a.seconds for a in answers)
    base = sorted(a.seconds for a in baseline)
    failed = [a for a in answers if a.status == 0 or a.status >= 500]
    slow = [a for a in answers if a.seconds >= LIMIT_SECONDS]
    unexpected = [a for a in answers if a.status not in (200, 201)]  # all valid: 2xx expected
    submitted = Application.objects.filter(
        status__in=Application.SUBMITTED_STATES, submitted_at__gte=down_at
    ).count()
    approved = Application.objects.filter(pk__in=to_approve, status="approved").count()
    accepted = Claim.objects.filter(
        voucher=voucher, status=Claim.Status.ACCEPTED, created_at__gte=down_at
    ).count()
    queued_mail = Notification.objects.filter(created_at__gte=down_at)
    pending_letters = AwardLetter.objects.filter(voucher__application_id__in=to_approve)
    voucher.refresh_from_db()
    figures.update(
        {
            "requests_while_down": len(answers),
            "requests_failed_while_down": len(failed),
            "requests_over_2s": len(slow),
            "latency_ms": {
                "median": round(statistics.median(latencies) * 1000),
                "p95": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000),
                "max": round(latencies[-1] * 1000),
            },
            "latency_ms_redis_up_baseline": {
                "requests": len(base),
                "median": round(statistics.median(base) * 1000),
                "max": round(base[-1] * 1000),
            },
            "load_seconds": round(load_seconds, 1),
            "emails_queued_in_redis_before_it_stopped": len(queued_before),
            "applications_submitted": submitted,
            "applications_approved": approved,
            "claims_accepted": accepted,
            "emails_pending_while_down": queued_mail.filter(status="pending").count(),
            "emails_queued_while_down": queued_mail.count(),
            "letters_pending_while_down": pending_letters.filter(status="pending").count(),
        }
    )
    t0 = min(a.started for a in answers)
    figures["slow_requests"] = [
        (a.method, a.path, round(a.started - t0, 1), round(a.seconds, 2)) for a in slow
    ]
    assert not failed, [(a.method, a.path, a.status, a.error) for a in failed[:5]]
    assert not slow, [(a.method, a.path, round(a.seconds, 2)) for a in slow[:5]]
    assert not unexpected, [(a.method, a.path, a.status, a.body) for a in unexpected[:5]]
    assert submitted == APPLICANTS
    assert approved == APPROVALS
    assert Voucher.objects.filter(application_id__in=to_approve).count() == APPROVALS
    assert accepted == CLAIMS
    assert voucher.spent_cents == CLAIMS * CLAIM_CENTS * 30 // 100
    assert voucher.spent_cents == sum(
        LedgerEntry.objects.filter(voucher=voucher).values_list("spent_delta_cents", flat=True)
    )
    # Nothing could be queued: every email and letter waits in the database.
    assert queued_mail.count() >= APPLICANTS + APPROVALS
    assert queued_mail.exclude(status="pending").count() == 0
    assert pending_letters.count() == APPROVALS
    assert pending_letters.exclude(status="pending").count() == 0

    # Redis returns, with a worker and beat; the sweeps deliver what waited.
    redis_server.start()
    back, back_at = time.monotonic(), timezone.now()
    worker = celery_worker("faults-redis", env, workdir / "worker.log").start()
    processes.append(worker)
    beat = celery_beat(env, workdir).start()
    processes.append(beat)

    def caught_up() -> bool:
        return (
            not Notification.objects.exclude(status=Notification.Status.SENT).exists()
            and not AwardLetter.objects.exclude(status=AwardLetter.Status.READY).exists()
        )

    done = wait_for(caught_up, timeout=120, interval=0.2)
    caught_up_s = time.monotonic() - back
    if done:
        last_letter = max(AwardLetter.objects.values_list("rendered_at", flat=True))
        last_mail = max(Notification.objects.values_list("sent_at", flat=True))
        figures["last_letter_after_redis_back_s"] = round(
            (last_letter - back_at).total_seconds(), 1
        )
        figures["last_email_after_redis_back_s"] = round((last_mail - back_at).total_seconds(), 1)
    figures["caught_up_after_redis_back_s"] = round(caught_up_s, 1)
    figures["emails_sent_after"] = Notification.objects.filter(status="sent").count()
    assert done, (
        f"not caught up: {Notification.objects.exclude(status='sent').count()} emails, "
        f"{AwardLetter.objects.exclude(status='ready').count()} letters\n{worker.tail()}"
        f"\n{beat.tail()}"
    )
    time.sleep(2)  # a second sweep must find nothing to do and send nothing again

    # Exactly once: each email one message, each letter one file with its hash.
    sent = _mail_ids(mail)
    expected = set(Notification.objects.filter(created_at__gte=up_at).values_list("pk", flat=True))
    figures["emails_lost_with_redis_recovered"] = len(queued_before & set(sent))
    figures["emails_delivered_after"] = len(sent)
    figures["emails_duplicated"] = len(sent) - len(set(sent))
    assert expected <= set(sent)
    assert len(sent) == len(set(sent)), "an email was sent twice"
    letters = list(AwardLetter.objects.filter(voucher__application_id__in=to_approve))
    for letter in letters:
        data = (media / letter.pdf.name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == letter.sha256
    stored = sorted(str(p.relative_to(media)) for p in (media / "letters").glob("*.pdf"))
    assert stored == sorted(AwardLetter.objects.values_list("pdf", flat=True))
    figures["letters_rendered_after"] = len(letters)
    figures["letters_duplicated"] = len(stored) - AwardLetter.objects.count()
