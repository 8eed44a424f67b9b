"""Benchmark: claims per second through the claim service against the same transaction in raw SQL.

Creates its own PostgreSQL database (dropped and recreated each run), migrates it and seeds one
program, one provider per client (each with a staff user and a provider-scoped API token) and
1,000 active vouchers in the state approval and acceptance leave them (bulk inserts: organization
and owner, approved application, voucher, opening ledger entry, the voucher's two audit events,
the program's commitment). Then `--clients` processes (multiprocessing, fork; each with its own
database connection) submit claims, in the same run:

- **one voucher**: every claim on the same voucher, so they queue on its row lock; its cap is
  half a claim short of the demand, so the last claim is clamped and the voucher ends exactly
  at its cap (a fresh voucher for each run of each path);
- **spread**: each claim on one of the 1,000 vouchers at random (the same picks for each path);

each case through
- **service**: `disbursement.services.claims.claim_submit`, called in the client process;
- **raw**: the same logical transaction in psycopg2, statement by statement (lock the voucher,
  insert the claim and its lines, insert the ledger entry, update the voucher, append the audit
  event to the voucher's hash chain), one transaction per claim;
- and, spread only, **api**: POST /api/v1/claims/ on gunicorn (the Makefile's 3 workers x 4
  threads) with a keep-alive connection and a provider token per client.

    python bench/claims.py            # 8 clients x 150 claims per run, 3 rounds (~4 minutes)
    python bench/claims.py --quick    # 8 x 20 claims, 1 round: under a minute
    python bench/claims.py --clients 16 --claims 300 --rounds 5 --keep-db
    python bench/claims.py --profile  # also: where a service claim spends its time
    python bench/claims.py --audit-cost  # also the spread case without audit events

Every client submits a few claims each way before anything is timed. Rounds alternate the order
of the paths. Celery runs eagerly in-process (REDIS_URL is emptied for this process and the
server): nothing is published to any broker. The database, the server and the client
processes are removed on exit, error, Ctrl-C or SIGTERM.

Ends with exactly one line:
    RESULT claims one_voucher_service_cps=... one_voucher_raw_cps=... ratio_one=...
        spread_service_cps=... spread_raw_cps=... ratio_spread=... api_cps=... ratio_api=...
        overspend_cents=... baseline=<spread_raw_cps> ratio=<lower of ratio_one, ratio_spread>
Targets (DESIGN, "Non-functional targets"): ratio_one and ratio_spread >= 0.5; overspend 0.
ratio_api (api / spread raw) is reported for information: the whole HTTP path (token check,
parsing and validation, JSON answer, gunicorn) has no target of its own.
The server is PostgreSQL from DATABASE_URL (its host, another database name) or
postgres@127.0.0.1:5432; BENCH_DATABASE_URL names the database outright.
"""

import argparse
import cProfile
import http.client
import json
import multiprocessing
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

# Every claim: two usage lines, 100.00 on domestic chips (50 %) and 200.00 on foreign (30 %).
LINES = [("domestic", Decimal("10.5"), 100_00), ("foreign", Decimal("20.25"), 200_00)]
INVOICE_CENTS = sum(amount for _, _, amount in LINES)
SUBSIDY_CENTS = 50_00 + 60_00
API_PATH = "/api/v1/claims/"
WARM_UP_CLAIMS = 3  # per client and path, before anything is timed
BARRIER_SECONDS = 300

# --- The raw transaction ---------------------------------------------------------------------

# The lock also answers the rules that need the database, as the service's lock does: is the
# provider approved for the program, affiliated with the startup, has it claimed this invoice.
RAW_LOCK = """
SELECT v.id, v.program_id, v.spent_cents, v.cap_cents, v.status, v.currency,
       v.rate_standard_bps, v.rate_domestic_bps, v.over_cap_policy, v.valid_from, v.valid_until,
       o.registration_number,
       EXISTS (SELECT 1 FROM vouchers_program_approved_providers ap
               WHERE ap.program_id = v.program_id AND ap.provider_id = %(provider)s),
       EXISTS (SELECT 1 FROM disbursement_provideraffiliation pa
               WHERE pa.provider_id = %(provider)s AND pa.organization_id = v.organization_id),
       EXISTS (SELECT 1 FROM disbursement_claim c
               WHERE c.provider_id = %(provider)s AND c.invoice_number = %(invoice)s
               AND c.status IN ('accepted', 'reversed'))
FROM vouchers_voucher v JOIN applicants_organization o ON o.id = v.organization_id
WHERE v.code = %(code)s FOR UPDATE OF v
"""
RAW_CLAIM = """
INSERT INTO disbursement_claim (
    created_at, updated_at, provider_id, provider_reference, request_sha256, voucher_id,
    voucher_code_submitted, invoice_number, invoice_total_cents, currency, service_period_start,
    service_period_end, status, rejection_code, rejection_message, eligible_cents, subsidy_cents,
    billed_to_startup_cents, calculation, payout_id, submitted_by_id, reversed_at,
    reversal_reason
) VALUES (
    %(now)s, %(now)s, %(provider)s, %(reference)s, %(sha)s, %(voucher)s, %(code)s, %(invoice)s,
    %(total)s, %(currency)s, %(start)s, %(end)s, 'accepted', '', '', %(eligible)s, %(subsidy)s,
    %(billed)s, %(calculation)s, NULL, %(actor)s, NULL, ''
) RETURNING id
"""
RAW_LINES = """
INSERT INTO disbursement_claimline (
    claim_id, position, description, chip_origin, gpu_hours, amount_cents, rate_bps, subsidy_cents
) VALUES {values}
"""
RAW_LEDGER = """
INSERT INTO disbursement_ledgerentry (
    voucher_id, program_id, kind, spent_delta_cents, cap_delta_cents, committed_delta_cents,
    spent_after_cents, cap_after_cents, claim_id, actor_id, reason, idempotency_key, created_at
) VALUES (%s, %s, 'charge', %s, 0, 0, %s, %s, %s, %s, '', %s, %s)
"""
RAW_VOUCHER = """
UPDATE vouchers_voucher SET spent_cents = spent_cents + %(subsidy)s,
    status = CASE WHEN spent_cents + %(subsidy)s = cap_cents THEN 'exhausted' ELSE status END
WHERE id = %(voucher)s
"""
RAW_STREAM = "SELECT id, last_seq, last_hash FROM audit_auditstream WHERE key = %s FOR UPDATE"
RAW_EVENT = """
INSERT INTO audit_auditevent (
    stream, seq, occurred_at, actor_id, actor_label, action, target_type, target_id,
    target_label, data, ip, user_agent, request_id, prev_hash, hash
) VALUES (%s, %s, %s, %s, %s, 'claim.accepted', 'vouchers.voucher', %s, %s, %s, NULL, '', '',
          %s, %s)
"""
RAW_STREAM_UPDATE = (
    "UPDATE audit_auditstream SET last_seq = %s, last_hash = %s, updated_at = %s WHERE id = %s"
)
RAW_STATEMENTS = 10  # 8, with BEGIN and COMMIT (as Django counts them for the other paths)


@dataclass(frozen=True)
class Client:
    """What a client process acts as: one provider's staff user, with its API token."""

    index: int
    user: Any
    provider: Any
    token: str = ""


@dataclass(frozen=True)
class Job:
    path: str  # service, raw or api
    label: str  # makes the references and invoice numbers unique
    codes: list[str]  # the voucher code of each claim this client submits, in order
    api: tuple[str, int] | None = None
    profile_dir: str = ""


@dataclass
class Report:
    index: int
    started: float = 0.0
    ended: float = 0.0
    latencies: list[float] = field(default_factory=list)
    not_accepted: int = 0
    reconnects: int = 0
    error: str = ""


def claim_input(code: str, reference: str) -> Any:
    from django.utils import timezone

    from disbursement.services.claims import ClaimInput, LineInput

    today = timezone.localdate()
    return ClaimInput(
        voucher_code=code,
        provider_reference=reference,
        invoice_number=reference,
        invoice_total_cents=INVOICE_CENTS,
        currency="CNY",
        service_period_start=today,
        service_period_end=today,
        lines=[LineInput(chip_origin=c, gpu_hours=h, amount_cents=a) for c, h, a in LINES],
    )


def raw_claim(conn: Any, client: Client, data: Any, *, audit: bool = True) -> str:
    """One claim as raw SQL in one transaction: what claim_submit writes for an accepted claim.

    The subsidy arithmetic (`calculate`), the request fingerprint and the audit hash are the
    same pure functions the service uses; everything that touches the database is SQL here.
    Returns the claim's status ("accepted"), or "rejected" if a rule refuses it (none should).
    """
    from audit.services import canonical_json, event_hash
    from disbursement.subsidy import Line, calculate

    user, provider = client.user, client.provider
    with conn.cursor() as cur:
        # Serialises every movement on the voucher.
        cur.execute(
            RAW_LOCK,
            {"provider": provider.pk, "invoice": data.invoice_number, "code": data.voucher_code},
        )
        (voucher_id, program_id, spent, cap, status, currency, std, dom, policy, valid_from,
         valid_until, registration, approved, affiliated, claimed) = cur.fetchone()  # fmt: skip
        now = datetime.now(UTC)
        if (
            status != "active"
            or spent >= cap
            or valid_until <= now
            or not approved
            or affiliated
            or registration == provider.registration_number
            or claimed
            or currency != data.currency
            or data.service_period_start < valid_from.date()
            or data.service_period_end > valid_until.date()
        ):
            conn.rollback()
            return "rejected"
        calc = calculate(
            lines=[Line(ln.chip_origin, ln.amount_cents) for ln in data.lines],
            rate_standard_bps=std,
            rate_domestic_bps=dom,
            remaining_cents=cap - spent,
            clamp=policy == "clamp",
        )
        subsidy = calc.subsidy_cents
        billed = data.invoice_total_cents - subsidy
        trace = {
            **calc.trace,
            "voucher": data.voucher_code,
            "invoice_total_cents": data.invoice_total_cents,
            "billed_to_startup_cents": billed,
        }
        cur.execute(
            RAW_CLAIM,
            {
                "now": now,
                "provider": provider.pk,
                "reference": data.provider_reference,
                "sha": data.fingerprint(),
                "voucher": voucher_id,
                "code": data.voucher_code,
                "invoice": data.invoice_number,
                "total": data.invoice_total_cents,
                "currency": currency,
                "start": data.service_period_start,
                "end": data.service_period_end,
                "eligible": calc.eligible_cents,
                "subsidy": subsidy,
                "billed": billed,
                "calculation": json.dumps(trace),
                "actor": user.pk,
            },
        )
        claim_id = cur.fetchone()[0]
        rows = [
            (claim_id, r.position, "", ln.chip_origin, ln.gpu_hours, ln.amount_cents, r.rate_bps,
             r.subsidy_cents)
            for r, ln in zip(calc.lines, data.lines, strict=True)
        ]  # fmt: skip
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
        cur.execute(RAW_LINES.format(values=values), [v for row in rows for v in row])
        cur.execute(
            RAW_LEDGER,
            (voucher_id, program_id, subsidy, spent + subsidy, cap, claim_id, user.pk,
             f"claim:{claim_id}", now),
        )  # fmt: skip
        cur.execute(RAW_VOUCHER, {"subsidy": subsidy, "voucher": voucher_id})
        if not audit:  # --audit-cost: the same transaction without its audit event
            conn.commit()
            return "accepted"
        stream = f"vouchers.voucher:{voucher_id}"
        cur.execute(RAW_STREAM, (stream,))  # serialises appends to this one chain
        head_id, last_seq, last_hash = cur.fetchone()
        event = {
            "claim": claim_id,
            "provider": provider.short_name,
            "reference": data.provider_reference,
            "invoice": data.invoice_number,
            "subsidy_cents": subsidy,
            "spent_cents": {"before": spent, "after": spent + subsidy},
            "clamped_cents": calc.clamped_cents,
        }
        digest = event_hash(
            stream=stream,
            seq=last_seq + 1,
            occurred_at=now,
            actor_id=user.pk,
            action="claim.accepted",
            target_type="vouchers.voucher",
            target_id=str(voucher_id),
            data=event,
            ip=None,
            prev_hash=last_hash,
        )
        cur.execute(
            RAW_EVENT,
            (stream, last_seq + 1, now, user.pk, user.email, str(voucher_id), data.voucher_code,
             canonical_json(event), last_hash, digest),
        )  # fmt: skip
        cur.execute(RAW_STREAM_UPDATE, (last_seq + 1, digest, now, head_id))
    conn.commit()
    return "accepted"


def api_body(data: Any) -> bytes:
    """The claim as the API takes it: amounts as decimal strings."""
    return json.dumps(
        {
            "voucher_code": data.voucher_code,
            "reference": data.provider_reference,
            "invoice_number": data.invoice_number,
            "invoice_total": f"{Decimal(data.invoice_total_cents) / 100:.2f}",
            "currency": data.currency,
            "service_period_start": data.service_period_start.isoformat(),
            "service_period_end": data.service_period_end.isoformat(),
            "lines": [
                {
                    "chip_origin": ln.chip_origin,
                    "gpu_hours": str(ln.gpu_hours),
                    "amount": f"{Decimal(ln.amount_cents) / 100:.2f}",
                }
                for ln in data.lines
            ],
        }
    ).encode()


# --- The client processes --------------------------------------------------------------------


class ClientProcess:
    """One forked process submitting claims for one provider. Between jobs it waits on its
    inbox; each job starts, in every client at once, on a shared barrier."""

    def __init__(self, client: Client, dsn: str, barrier: Any, results: Any) -> None:
        self.client, self.dsn, self.barrier, self.results = client, dsn, barrier, results
        self.raw: Any = None
        self.http: http.client.HTTPConnection | None = None
        self.reconnects = 0

    def serve(self, inbox: Any) -> None:
        while True:
            job = inbox.get()
            if job is None:
                break
            report = Report(self.client.index)
            try:
                self.run(job, report)
            except BaseException:
                report.error = traceback.format_exc()
                self.barrier.abort()  # the others (and the parent) stop waiting
            self.results.put(report)
        if self.raw is not None:
            self.raw.close()
        if self.http is not None:
            self.http.close()

    def run(self, job: Job, report: Report) -> None:
        inputs = [
            claim_input(code, f"{job.label}-c{self.client.index}-{n}")
            for n, code in enumerate(job.codes)
        ]
        submit = getattr(self, f"submit_{job.path}")
        if job.path == "api" and job.api is not None:
            # A fresh keep-alive connection: gunicorn closes one left idle for 5 s (--keep-alive).
            if self.http is not None:
                self.http.close()
            self.http = http.client.HTTPConnection(*job.api, timeout=60)
        profiler = cProfile.Profile() if job.profile_dir else None
        self.barrier.wait(timeout=BARRIER_SECONDS)
        report.started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        for data in inputs:
            started = time.perf_counter()
            if submit(data, job) != "accepted":
                report.not_accepted += 1
            report.latencies.append(time.perf_counter() - started)
        report.ended = time.perf_counter()
        report.reconnects, self.reconnects = self.reconnects, 0
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(Path(job.profile_dir, f"{job.label}-{self.client.index}.prof"))

    def submit_service(self, data: Any, job: Job) -> str:
        from disbursement.services.claims import claim_submit

        client = self.client
        return claim_submit(actor=client.user, provider=client.provider, data=data).claim.status

    def submit_service_noaudit(self, data: Any, job: Job) -> str:
        """The service with audit_record() replaced by nothing, in this client only."""
        from unittest import mock

        from disbursement.services import claims

        with mock.patch.object(claims, "audit_record", lambda **kwargs: None):
            return self.submit_service(data, job)

    def submit_raw_noaudit(self, data: Any, job: Job) -> str:
        if self.raw is None:
            import psycopg2

            self.raw = psycopg2.connect(self.dsn)
        return raw_claim(self.raw, self.client, data, audit=False)

    def submit_raw(self, data: Any, job: Job) -> str:
        if self.raw is None:
            import psycopg2

            self.raw = psycopg2.connect(self.dsn)
        return raw_claim(self.raw, self.client, data)

    def submit_api(self, data: Any, job: Job) -> str:
        assert job.api is not None and self.http is not None  # noqa: S101  (opened in run())
        host, port = job.api
        headers = {
            "Host": f"{host}:{port}",
            "Authorization": f"Token {self.client.token}",
            "Content-Type": "application/json",
            "Accept-Encoding": "identity",
        }
        for attempt in (1, 2):
            try:
                self.http.request("POST", API_PATH, body=api_body(data), headers=headers)
                response = self.http.getresponse()
                body = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed the connection: send again on a new one. Safe: the same
                # reference and body are answered as the first time (idempotency key).
                self.http.close()
                if attempt == 2:
                    raise
                self.reconnects += 1
        if response.will_close:
            self.http.close()  # http.client reconnects on the next request
        if response.status != 201:
            raise RuntimeError(f"POST {API_PATH} answered {response.status}: {body[:500]!r}")
        return str(json.loads(body)["status"])


def _client_main(client: Client, dsn: str, barrier: Any, results: Any, inbox: Any) -> None:
    ClientProcess(client, dsn, barrier, results).serve(inbox)


class Clients:
    """The client processes (fork), started once; `run` gives each a job and times them."""

    def __init__(self, clients: list[Client], dsn: str) -> None:
        from django.db import connections

        connections.close_all()  # each forked process opens its own connection
        context = multiprocessing.get_context("fork")
        self.barrier = context.Barrier(len(clients) + 1)
        self.results: Any = context.Queue()
        self.inboxes: list[Any] = []
        self.processes: list[Any] = []
        for client in clients:
            inbox = context.Queue()
            process = context.Process(
                target=_client_main,
                args=(client, dsn, self.barrier, self.results, inbox),
                name=f"bench-claims-client-{client.index}",
                daemon=True,
            )
            process.start()
            self.inboxes.append(inbox)
            self.processes.append(process)

    def run(self, jobs: list[Job]) -> "Phase":
        """Start every client's job at once; the phase lasts from the first start to the last
        end."""
        import queue
        from threading import BrokenBarrierError

        for inbox, job in zip(self.inboxes, jobs, strict=True):
            inbox.put(job)
        try:
            self.barrier.wait(timeout=BARRIER_SECONDS)
        except BrokenBarrierError:
            pass  # a client failed while preparing: its report says why
        reports: list[Report] = []
        deadline = time.monotonic() + 900
        while len(reports) < len(jobs):
            try:
                reports.append(self.results.get(timeout=5))
            except queue.Empty:
                if time.monotonic() > deadline or not all(p.is_alive() for p in self.processes):
                    raise SystemExit("a client process died or hung") from None
        failed = [r for r in reports if r.error]
        if failed:
            raise SystemExit(f"client {failed[0].index} failed:\n{failed[0].error}")
        return Phase(
            claims=sum(len(r.latencies) for r in reports),
            seconds=max(r.ended for r in reports) - min(r.started for r in reports),
            latencies=[x for r in reports for x in r.latencies],
            not_accepted=sum(r.not_accepted for r in reports),
            reconnects=sum(r.reconnects for r in reports),
        )

    def stop(self) -> None:
        for inbox in self.inboxes:
            try:
                inbox.put(None)
            except (OSError, ValueError):
                pass
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


# --- Seeding ---------------------------------------------------------------------------------


@dataclass
class Seeded:
    clients: list[Client]
    spread_codes: list[str]
    one_codes: list[str]  # one fresh voucher per (round, path) of the one-voucher case
    one_caps: dict[str, int]
    counts: dict[str, int] = field(default_factory=dict)


def seed(*, clients: int, vouchers: int, one: int, one_claims: int) -> Seeded:
    """One program, `clients` providers with a staff user each, and `vouchers` + `one` active
    vouchers: the first for the spread case, the others each for one run of the one-voucher
    case, with a cap half a claim short of the `one_claims` that run submits."""
    from django.utils import timezone

    from accounts.models import User
    from applicants.models import Application, Membership, Organization
    from audit.models import AuditAction, AuditEvent, AuditStream
    from audit.services import event_hash
    from bench.reconcile import uscc, voucher_code
    from disbursement.models import LedgerEntry, Provider, ProviderStaff
    from vouchers.models import Program, Voucher

    rng = random.Random(2026)  # noqa: S311  (reproducible data, not secrets)
    now = timezone.now()
    total = vouchers + one
    one_cap = one_claims * SUBSIDY_CENTS - SUBSIDY_CENTS // 2
    caps = [rng.randint(1_400, 2_800) * 100_00 for _ in range(vouchers)] + [one_cap] * one
    approver = User.objects.create_user(
        email="approver@claims.bench.example", full_name="Bench Approver", role=User.Role.APPROVER
    )
    providers = Provider.objects.bulk_create(
        Provider(
            short_name=f"Bench DC {i}",
            legal_name=f"Bench Data Centre {i} Co., Ltd.",
            registration_number=uscc(900_000 + i),
            region="CN-SH",
            chip_origins=["domestic", "foreign"],
        )
        for i in range(clients)
    )
    staff = [
        User.objects.create_user(
            email=f"provider{i}@claims.bench.example",
            full_name=f"Bench Provider Staff {i}",
            role=User.Role.PROVIDER,
        )
        for i in range(clients)
    ]
    ProviderStaff.objects.bulk_create(
        ProviderStaff(provider=p, user=u) for p, u in zip(providers, staff, strict=True)
    )
    program = Program.objects.create(
        code="CB-2026",
        slug="claims-bench-2026",
        name="Compute voucher round 2026",
        region="CN-SH",
        currency="CNY",
        budget_cents=sum(caps) + 1_000_000_00,
        award_floor_cents=1_000_00,  # the one-voucher runs of --quick have small caps
        award_ceiling_cents=max(caps),
        opens_at=now - timedelta(days=90),
        closes_at=now - timedelta(days=40),
        is_published=True,
    )
    program.approved_providers.set(providers)
    owners = User.objects.bulk_create(
        User(
            email=f"founder{i}@claims.bench.example",
            full_name=f"Founder {i}",
            password="!bench-unusable",  # noqa: S106  ("!" marks an unusable password)
            role=User.Role.APPLICANT,
        )
        for i in range(total)
    )
    orgs = Organization.objects.bulk_create(
        Organization(
            legal_name=f"Bench Startup {i} Co., Ltd.",
            registration_number=uscc(i + 1),
            region="CN-SH",
            incorporated_on=(now - timedelta(days=900)).date(),
            headcount=20,
            created_by=owner,
        )
        for i, owner in enumerate(owners)
    )
    Membership.objects.bulk_create(
        Membership(organization=org, user=owner, role=Membership.Role.OWNER)
        for org, owner in zip(orgs, owners, strict=True)
    )
    apps = Application.objects.bulk_create(
        Application(
            organization=org,
            program=program,
            reference=f"{program.code}-{i + 1:06d}",
            status="approved",
            version=1,
            currency="CNY",
            title="Model training",
            requested_amount_cents=cap,
            decided_at=now - timedelta(days=31),
            created_by=owner,
        )
        for i, (org, owner, cap) in enumerate(zip(orgs, owners, caps, strict=True))
    )
    valid_from = now - timedelta(days=30)
    activated = valid_from + timedelta(days=1)
    vs = Voucher.objects.bulk_create(
        Voucher(
            code=voucher_code(i + 1),
            application=app,
            program=program,
            organization=app.organization,
            status=Voucher.Status.ACTIVE,
            currency="CNY",
            cap_cents=cap,
            rate_standard_bps=program.rate_standard_bps,
            rate_domestic_bps=program.rate_domestic_bps,
            over_cap_policy=program.over_cap_policy,
            terms=program.terms_snapshot(),
            valid_from=valid_from,
            valid_until=valid_from + timedelta(days=program.voucher_validity_days),
            issued_by=approver,
            activated_at=activated,
            accepted_by=owner,
        )
        for i, (app, owner, cap) in enumerate(zip(apps, owners, caps, strict=True))
    )
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            voucher=v,
            program=program,
            kind=LedgerEntry.Kind.ISSUE,
            cap_delta_cents=v.cap_cents,
            committed_delta_cents=v.cap_cents,
            spent_after_cents=0,
            cap_after_cents=v.cap_cents,
            actor=approver,
            idempotency_key=f"voucher-issue:{v.pk}",
        )
        for v in vs
    )
    events, heads = [], []
    for v, owner in zip(vs, owners, strict=True):
        stream, prev = f"vouchers.voucher:{v.pk}", ""
        history = [
            (AuditAction.VOUCHER_ISSUED, valid_from, approver, {"cap_cents": v.cap_cents}),
            (
                AuditAction.VOUCHER_ACTIVATED,
                activated,
                owner,
                {"status": {"before": "issued", "after": "active"}},
            ),
        ]
        for seq, (action, at, actor, data) in enumerate(history, start=1):
            digest = event_hash(
                stream=stream,
                seq=seq,
                occurred_at=at,
                actor_id=actor.pk,
                action=str(action),
                target_type="vouchers.voucher",
                target_id=str(v.pk),
                data=data,
                ip=None,
                prev_hash=prev,
            )
            events.append(
                AuditEvent(
                    stream=stream,
                    seq=seq,
                    occurred_at=at,
                    actor=actor,
                    actor_label=actor.email,
                    action=action,
                    target_type="vouchers.voucher",
                    target_id=str(v.pk),
                    target_label=v.code,
                    data=data,
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev = digest
        heads.append(AuditStream(key=stream, last_seq=len(history), last_hash=prev))
    AuditEvent.objects.bulk_create(events, batch_size=2_000)
    AuditStream.objects.bulk_create(heads, batch_size=2_000)
    Program.objects.filter(pk=program.pk).update(committed_cents=sum(caps))
    common.vacuum_analyze()
    return Seeded(
        clients=[Client(i, u, p) for i, (u, p) in enumerate(zip(staff, providers, strict=True))],
        spread_codes=[v.code for v in vs[:vouchers]],
        one_codes=[v.code for v in vs[vouchers:]],
        one_caps={v.code: v.cap_cents for v in vs[vouchers:]},
        counts={"vouchers": total, "audit_events": len(events)},
    )


def with_tokens(clients: list[Client]) -> list[Client]:
    """Each staff user's provider-scoped API token, made by the real service."""
    from accounts.services import api_token_create

    return [
        Client(c.index, c.user, c.provider, api_token_create(user=c.user, name="bench")[1])
        for c in clients
    ]


def statements_per_claim(client: Client, code: str) -> dict[str, int]:
    """Statements one claim costs through the service and through the API (in-process, after
    a first request), counted by Django; the raw path's are fixed (RAW_STATEMENTS)."""
    from django.db import connection
    from django.test import Client as TestClient
    from django.test.utils import CaptureQueriesContext

    from disbursement.services.claims import claim_submit

    with CaptureQueriesContext(connection) as service:
        claim_submit(actor=client.user, provider=client.provider, data=claim_input(code, "probe-1"))
    http = TestClient()
    headers = {"Authorization": f"Token {client.token}"}
    for n in (2, 3):
        with CaptureQueriesContext(connection) as api:
            response = http.post(
                API_PATH,
                data=api_body(claim_input(code, f"probe-{n}")),
                content_type="application/json",
                headers=headers,
            )
        if response.status_code != 201:
            raise SystemExit(
                f"POST {API_PATH} answered {response.status_code}: {response.content!r}"
            )
    return {"service": len(service), "api": len(api), "raw": RAW_STATEMENTS}


# --- Measuring -------------------------------------------------------------------------------


@dataclass
class Phase:
    claims: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    not_accepted: int = 0
    reconnects: int = 0

    @property
    def cps(self) -> float:
        return self.claims / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))] * 1000


def spread_codes(codes: list[str], claims: int, seed: str) -> list[str]:
    rng = random.Random(seed)  # noqa: S311  (the same picks for every path of a round)
    return [rng.choice(codes) for _ in range(claims)]


def run_phase(
    pool: Clients,
    seeded: Seeded,
    *,
    case: str,
    path: str,
    round_number: int,
    claims: int,
    server: tuple[str, int] | None,
    profile_dir: str = "",
) -> Phase:
    label = f"{path}-{case}-r{round_number}"
    jobs = []
    for client in seeded.clients:
        if case == "one":
            codes = [seeded.one_codes[2 * round_number + (path == "raw")]] * claims
        else:
            codes = spread_codes(seeded.spread_codes, claims, f"{round_number}-{client.index}")
        jobs.append(Job(path, label, codes, server, profile_dir if path == "service" else ""))
    return pool.run(jobs)


def warm_up(pool: Clients, seeded: Seeded, paths: list[str], server: Any) -> None:
    """A few claims per client and path on the spread vouchers: imports, connections, plans."""
    for path in paths:
        jobs = [
            Job(
                path,
                f"warm-{path}",
                spread_codes(seeded.spread_codes, WARM_UP_CLAIMS, f"warm-{c.index}"),
                server,
            )
            for c in seeded.clients
        ]
        pool.run(jobs)


def run_rounds(
    args: argparse.Namespace, pool: Clients, seeded: Seeded, server: Any, profile_dir: str
) -> dict[str, Phase]:
    """Each round: the one-voucher case service and raw, the spread case service, raw and API;
    the order reversed every other round so that drift on the machine touches every path."""
    totals = {key: Phase() for key in ("one_service", "one_raw", "spread_service", "spread_raw")}
    totals["spread_api"] = Phase()
    extra = ("service_noaudit", "raw_noaudit") if args.audit_cost else ()
    for path in extra:
        totals[f"spread_{path}"] = Phase()
    for number in range(args.rounds):
        forward = number % 2 == 0
        order = [("one", p) for p in (("service", "raw") if forward else ("raw", "service"))]
        spread = ("service", "raw", *extra, "api")
        spread = spread if forward else tuple(reversed(spread))
        order += [("spread", p) for p in spread if p != "api" or not args.no_api]
        for case, path in order:
            phase = run_phase(
                pool,
                seeded,
                case=case,
                path=path,
                round_number=number,
                claims=args.claims,
                server=server,
                profile_dir=profile_dir,
            )
            total = totals[f"{case}_{path}"]
            total.claims += phase.claims
            total.seconds += phase.seconds
            total.latencies += phase.latencies
            total.not_accepted += phase.not_accepted
            total.reconnects += phase.reconnects
            print(
                f"  round {number + 1}/{args.rounds} {case:6} {path:15}: {phase.claims} claims in "
                f"{phase.seconds:.2f} s = {phase.cps:.1f} claims/s",
                flush=True,
            )
    return totals


@dataclass
class Checks:
    overspend_cents: int = 0
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def verify(seeded: Seeded, args: argparse.Namespace) -> Checks:
    """No voucher past its cap, every voucher's spent equal to its ledger and to its accepted
    claims, the one-voucher runs ending exactly at their cap with one clamped claim, and every
    audit chain intact (the raw path's events included)."""
    from django.db import connection

    from audit.selectors import audit_chain_verify

    checks = Checks()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT v.code, v.cap_cents, v.spent_cents, v.status, COALESCE(l.spent, 0),
                   COALESCE(l.cap, 0), COALESCE(c.subsidy, 0), COALESCE(c.n, 0),
                   COALESCE(c.clamped, 0)
            FROM vouchers_voucher v
            LEFT JOIN (SELECT voucher_id, SUM(spent_delta_cents) AS spent,
                              SUM(cap_delta_cents) AS cap
                       FROM disbursement_ledgerentry GROUP BY voucher_id) l ON l.voucher_id = v.id
            LEFT JOIN (SELECT voucher_id, SUM(subsidy_cents) AS subsidy, COUNT(*) AS n,
                              COUNT(*) FILTER (WHERE subsidy_cents < %s) AS clamped
                       FROM disbursement_claim WHERE status = 'accepted'
                       GROUP BY voucher_id) c ON c.voucher_id = v.id
            """,
            [SUBSIDY_CENTS],
        )
        rows = cursor.fetchall()
        cursor.execute("SELECT status, COUNT(*) FROM disbursement_claim GROUP BY status")
        by_status = dict(cursor.fetchall())
    one = set(seeded.one_codes[: 2 * args.rounds])
    expected_one = args.claims * len(seeded.clients)
    for code, cap, spent, status, l_spent, l_cap, c_subsidy, n, clamped in rows:
        checks.overspend_cents += max(0, spent - cap, l_spent - cap, c_subsidy - cap)
        if not (spent == l_spent == c_subsidy and cap == l_cap):
            checks.problems.append(
                f"{code}: spent {spent}, ledger {l_spent}, claims {c_subsidy}; cap {cap}/{l_cap}"
            )
        if code in one and (
            spent != cap or status != "exhausted" or n != expected_one or clamped != 1
        ):
            checks.problems.append(
                f"{code} (one voucher): spent {spent} of {cap}, {status}, {n} claims "
                f"(expected {expected_one}), {clamped} clamped (expected 1)"
            )
    chain = audit_chain_verify()
    checks.problems += [f"audit chain {p.stream} seq {p.seq}: {p.kind}" for p in chain[:5]]
    checks.lines.append(
        f"{len(rows):,} vouchers checked: overspend {checks.overspend_cents} cents; spent = "
        f"ledger = accepted claims on every voucher: {'yes' if not checks.problems else 'NO'}; "
        f"claims by status {by_status}"
    )
    checks.lines.append(
        f"one-voucher runs: each of {len(one)} vouchers took {expected_one:,} claims, the last "
        f"clamped to what was left, and ended exactly at its cap: "
        f"{'yes' if not any('one voucher' in p for p in checks.problems) else 'NO'}"
    )
    checks.lines.append(
        f"audit hash chains intact (verify_audit_chain): {'yes' if not chain else 'NO'}"
    )
    return checks


def profile_report(profile_dir: Path) -> None:
    """Where the service's time goes, from the client processes' cProfile dumps (spread case)."""
    files = sorted(str(p) for p in profile_dir.glob("service-spread-*.prof"))
    if not files:
        print("profile: no dumps")
        return
    stats = pstats.Stats(files[0])
    for name in files[1:]:
        stats.add(name)
    print(f"\nprofile of the spread service runs ({len(files)} client dumps, cumulative time):")
    stats.sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(35)


# --- Main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20 claims per client, 1 round")
    parser.add_argument(
        "--claims", type=int, help="claims per client in each run of each path (default 150)"
    )
    parser.add_argument("--rounds", type=int, help="rounds; the order alternates (default 3)")
    parser.add_argument("--clients", type=int, default=8, help="client processes (default 8)")
    parser.add_argument(
        "--vouchers", type=int, default=1_000, help="vouchers of the spread case (default 1,000)"
    )
    parser.add_argument(
        "--workers", type=int, default=3, help="gunicorn workers (default 3, as make run)"
    )
    parser.add_argument(
        "--threads", type=int, default=4, help="threads per gunicorn worker (default 4)"
    )
    parser.add_argument("--no-api", action="store_true", help="skip the HTTP API (no gunicorn)")
    parser.add_argument(
        "--audit-cost",
        action="store_true",
        help="also run the spread case without audit events (service and raw), to show the "
        "hash chain's cost",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the service in the clients (spread case) and print where the time goes "
        "(slows the service down: not for the recorded figures)",
    )
    parser.add_argument(
        "--database", default="bench_claims", help="database name (dropped and recreated)"
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the database after the run")
    args = parser.parse_args(argv)
    args.claims = args.claims or (20 if args.quick else 150)
    args.rounds = args.rounds or (1 if args.quick else 3)
    return args


def prepare(args: argparse.Namespace, url: str) -> Seeded:
    import django
    from django.core.management import call_command

    started = time.perf_counter()
    common.recreate_database(url)
    django.setup()
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    seeded = seed(
        clients=args.clients,
        vouchers=args.vouchers,
        one=2 * args.rounds,
        one_claims=args.claims * args.clients,
    )
    seeded.clients = with_tokens(seeded.clients)
    print(f"seeded in {time.perf_counter() - started:.1f} s: {seeded.counts}", flush=True)
    return seeded


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = common.bench_database_url(args.database)
    common.use_bench_database(url)
    common.terminate_on_sigterm()
    # Celery eager, in-process (config/settings/base.py: no REDIS_URL), here, in the clients and
    # in gunicorn: the threshold emails a claim may queue go to the locmem outbox, no broker.
    os.environ["REDIS_URL"] = ""
    info = common.machine_info()
    print(f"bench/claims.py on {info['cores']} cores ({info['cpu']}), Python {info['python']}")
    print(
        f"started {info['date']}; load average {common.load_average()}; database {url}; "
        f"{args.clients} client processes x {args.claims} claims per run, {args.rounds} round(s)",
        flush=True,
    )
    profile_dir = Path(tempfile.mkdtemp(prefix="bench-claims-")) if args.profile else None
    pool: Clients | None = None
    server: common.Gunicorn | None = None
    try:
        seeded = prepare(args, url)
        statements = statements_per_claim(seeded.clients[0], seeded.spread_codes[0])
        pool = Clients(seeded.clients, url)
        warm_up(pool, seeded, ["service", "raw"], None)
        address = None
        if not args.no_api:
            server = common.Gunicorn(
                workers=args.workers, threads=args.threads, ready_path="/healthz"
            )
            server.__enter__()
            address = (server.host, server.port)
            warm_up(pool, seeded, ["api"], address)
        print(
            f"clients warmed up ({WARM_UP_CLAIMS} claims each per path); gunicorn "
            + (f"{args.workers} workers x {args.threads} threads" if server else "not started"),
            flush=True,
        )
        phases = run_rounds(args, pool, seeded, address, str(profile_dir or ""))
        load = common.load_average()
        pool.stop()
        pool = None
        if server is not None:
            server.stop()
            server = None
        checks = verify(seeded, args)
        if profile_dir is not None:
            profile_report(profile_dir)
    finally:
        if pool is not None:
            pool.stop()
        if server is not None:
            server.stop()
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            common.drop_database(url)
        if profile_dir is not None:
            shutil.rmtree(profile_dir, ignore_errors=True)
    return report(args, phases, statements, checks, load)


def report(
    args: argparse.Namespace,
    phases: dict[str, Phase],
    statements: dict[str, int],
    checks: Checks,
    load: str,
) -> int:
    def ratio(a: str, b: str) -> float:
        return phases[a].cps / phases[b].cps if phases[b].cps else 0.0

    ratio_one = ratio("one_service", "one_raw")
    ratio_spread = ratio("spread_service", "spread_raw")
    ratio_api = ratio("spread_api", "spread_raw")
    baselines = {
        "one_service": "one_raw",
        "spread_service": "spread_raw",
        "spread_api": "spread_raw",
        "spread_service_noaudit": "spread_raw_noaudit",
    }
    rows = []
    for key, phase in phases.items():
        if not phase.claims:
            continue
        case, path = key.split("_", 1)
        rows.append(
            [
                "one voucher" if case == "one" else f"spread ({args.vouchers:,})",
                path,
                phase.claims,
                Decimal(f"{phase.seconds:.2f}"),
                phase.cps,
                phase.percentile(0.5),
                phase.percentile(0.95),
                statements.get(path, "-"),
                Decimal(f"{ratio(key, baselines[key]):.3f}") if key in baselines else "1",
            ]
        )
    print()
    print(
        common.table(
            [
                "case",
                "path",
                "claims",
                "seconds",
                "claims/s",
                "p50 ms",
                "p95 ms",
                "statements",
                "x raw",
            ],
            rows,
        )  # fmt: skip
    )
    print(
        "(statements per claim, BEGIN and COMMIT included; the API's also look up its token and "
        "read the claim back for the answer)"
    )
    for line in checks.lines:
        print(line)
    for problem in checks.problems[:10]:
        print(f"  PROBLEM: {problem}")
    not_accepted = sum(p.not_accepted for p in phases.values())
    if not_accepted:
        print(f"WARNING: {not_accepted} claims were not accepted")
    reconnects = sum(p.reconnects for p in phases.values())
    if reconnects:
        print(f"note: {reconnects} API requests were sent again on a new connection (replays)")
    print(f"load average at the end: {load}")

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(
        f"\nratio one voucher {ratio_one:.3f} (target >= 0.5): {met(ratio_one >= 0.5)}; "
        f"ratio spread {ratio_spread:.3f} (target >= 0.5): {met(ratio_spread >= 0.5)}; "
        + (
            f"ratio API {ratio_api:.3f} of spread raw (for information: the design sets no "
            "target for the whole HTTP path); "
            if not args.no_api
            else "API skipped; "
        )
        + f"overspend {checks.overspend_cents} cents (must be 0): "
        + met(checks.overspend_cents == 0 and not checks.problems)
    )
    audit_cost = ""
    if args.audit_cost:
        ratio_noaudit = ratio("spread_service_noaudit", "spread_raw_noaudit")
        service_kept = ratio("spread_service", "spread_service_noaudit")
        raw_kept = ratio("spread_raw", "spread_raw_noaudit")
        print(
            f"audit events (spread): with them the service runs at {service_kept:.3f} of its "
            f"throughput without them, raw SQL at {raw_kept:.3f}; without them the service is "
            f"{ratio_noaudit:.3f} of raw"
        )
        audit_cost = (
            f"service_noaudit_cps={phases['spread_service_noaudit'].cps:.1f} "
            f"raw_noaudit_cps={phases['spread_raw_noaudit'].cps:.1f} "
            f"ratio_noaudit={ratio_noaudit:.3f} audit_kept_service={service_kept:.3f} "
            f"audit_kept_raw={raw_kept:.3f} "
        )
    print(
        f"RESULT claims one_voucher_service_cps={phases['one_service'].cps:.1f} "
        f"one_voucher_raw_cps={phases['one_raw'].cps:.1f} ratio_one={ratio_one:.3f} "
        f"spread_service_cps={phases['spread_service'].cps:.1f} "
        f"spread_raw_cps={phases['spread_raw'].cps:.1f} ratio_spread={ratio_spread:.3f} "
        f"api_cps={phases['spread_api'].cps:.1f} ratio_api={ratio_api:.3f} "
        f"{audit_cost}overspend_cents={checks.overspend_cents} "
        f"baseline={phases['spread_raw'].cps:.1f} ratio={min(ratio_one, ratio_spread):.3f}"
    )
    return 1 if checks.problems or checks.overspend_cents or not_accepted else 0


if __name__ == "__main__":
    sys.exit(main())
