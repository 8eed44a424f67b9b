"""J6/M1/D1/D2: PostgreSQL restarted in the middle of a claim load.

A private PostgreSQL cluster (initdb in a temporary directory, its own port), migrated with
`manage.py migrate`, seeded through the services (8 providers with a staff account and an API
token each, two active vouchers of 180,000.00). The app runs in a real gunicorn
(2 workers x 4 threads, persistent health-checked connections as in production). Eight client
processes submit claims over HTTP, each with its own unique references, retrying a claim with
the same reference and body whenever the answer is not final (no answer, or 5xx), as a real
client would; the demand is about 1.15 times the vouchers' caps, so the last claims are refused.
A third of the way through, the cluster is restarted: `pg_ctl restart -m fast` (a clean
shutdown: sessions are ended, a checkpoint is written) and, in the second run, `-m immediate`
(the postmaster and its backends quit at once; the restart replays the WAL, as after a crash).

Afterwards: every claim answered 201 exists, accepted, with the id it was answered with; every
claim answered 422 exists, rejected, without a ledger entry; no reference has two claims; for
each voucher 0 <= spent <= cap and spent == the sum of its ledger entries, with one entry per
idempotency key; the ledger reconciliation is clean and the audit chain verifies.
"""

import json
import multiprocessing
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from tests.faults.procs import REPO_ROOT, django_env, gunicorn, manage, wait_http_ok
from tests.faults.seeding import claim_body
from tests.faults.webclient import ApiClient

pytestmark = [pytest.mark.faults]

CLIENTS = 8
CLAIMS_PER_CLIENT = 50
VOUCHERS = 2
RESTART_AFTER = 1 / 3  # of the claims answered
GIVE_UP_SECONDS = 90  # a client retries one claim this long before giving up on it
FINAL = (201, 409, 422)  # answers a client does not retry


def _remote(command: list[str], env: dict[str, str]) -> Any:
    result = subprocess.run(  # noqa: S603  (our own helper)
        [sys.executable, "-m", "tests.faults.remote", *command],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"remote {command}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return json.loads(result.stdout)


def _client(
    index: int,
    port: int,
    token: str,
    codes: list[str],
    amount_cents: int,
    today: str,
    answered: Any,
    results: Any,
) -> None:
    """One provider's client process: its claims one after another, each retried with the
    same reference and body until the answer is final."""
    client = ApiClient(port, token, timeout=30)
    log = []
    for n in range(CLAIMS_PER_CLIENT):
        reference = f"PG-{index}-{n}"
        body = claim_body(
            code=codes[(index + n) % len(codes)],
            reference=reference,
            amount_cents=amount_cents,
            today=today,
        )
        first, tries = time.time(), []
        final = None
        while True:
            answer = client.send("POST", "/api/v1/claims/", body, "application/json")
            tries.append([round(answer.started, 3), answer.status, answer.error[:60]])
            if answer.status in FINAL:
                final = answer
                break
            if time.time() - first > GIVE_UP_SECONDS:
                break
            time.sleep(min(1.0, 0.1 * 2 ** len(tries)))
        with answered.get_lock():
            answered.value += 1
        log.append(
            {
                "reference": reference,
                "tries": tries,
                "status": final.status if final else None,
                "claim_id": final.json.get("id") if final else None,
                "claim_status": final.json.get("status") if final else None,
                "replayed": bool(final and final.headers.get("idempotent-replayed")),
                "subsidy": final.json.get("subsidy") if final else None,
            }
        )
    results.put(log)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restart_during_claims_loses_and_doubles_nothing(
    mode, figures, workdir, pg_cluster, processes
):
    media, mail = workdir / "media", workdir / "mail"
    media.mkdir()
    mail.mkdir()
    env = django_env(
        database_url=pg_cluster.url("cv_faults"), redis_url="", media_root=media, mail_dir=mail
    )
    started = time.monotonic()
    pg_cluster.create_database("cv_faults")
    manage("migrate", "--noinput", env=env)
    figures["migrate_seconds"] = round(time.monotonic() - started, 1)
    seeded = _remote(["seed", "--providers", str(CLIENTS), "--vouchers", str(VOUCHERS)], env)
    codes = [v["code"] for v in seeded["vouchers"]]
    caps = sum(v["cap_cents"] for v in seeded["vouchers"])
    # Foreign chips at 30%: the demand is about 1.15 x the caps, so the tail is refused.
    amount_cents = int(round(caps * 1.15 / (CLIENTS * CLAIMS_PER_CLIENT) / 0.30, -2))
    figures["setup_seconds"] = round(time.monotonic() - started, 1)

    web = gunicorn(env, workdir / "gunicorn.log").start()
    processes.append(web)
    port: int = web.port  # type: ignore[attr-defined]
    wait_http_ok(web, port)

    connections.close_all()  # nothing of this process's connections goes into the children
    context = multiprocessing.get_context("fork")
    answered = context.Value("i", 0)
    results = context.Queue()
    today = timezone.localdate().isoformat()
    children = [
        context.Process(
            target=_client,
            args=(i, port, token, codes, amount_cents, today, answered, results),
            daemon=True,
        )
        for i, token in enumerate(seeded["tokens"])
    ]
    total = CLIENTS * CLAIMS_PER_CLIENT
    logs: list[dict[str, Any]] = []
    load_started = time.time()
    try:
        for child in children:
            child.start()
        while answered.value < total * RESTART_AFTER:
            assert any(c.is_alive() for c in children), "the clients stopped early"
            time.sleep(0.05)
        restart_at = time.time()
        restart_seconds = pg_cluster.restart(mode)
        for _ in children:
            logs += results.get(timeout=GIVE_UP_SECONDS * 3)
        for child in children:
            child.join(timeout=30)
    finally:
        for child in children:
            if child.is_alive():
                child.kill()
                child.join()
    load_seconds = time.time() - load_started
    books = _remote(["check"], env)

    # What the clients saw.
    tries = [t for entry in logs for t in entry["tries"]]
    not_final = [t for t in tries if t[1] not in FINAL]
    statuses = Counter(entry["status"] for entry in logs)
    window = (
        round(max(t[0] for t in not_final) - min(t[0] for t in not_final), 2) if not_final else 0
    )
    acknowledged = [e for e in logs if e["status"] == 201]
    refused = [e for e in logs if e["status"] == 422]
    claims = books["claims"]
    lost = [e["reference"] for e in acknowledged if e["reference"] not in claims]
    wrong = [
        e["reference"]
        for e in acknowledged
        if e["reference"] in claims
        and (
            claims[e["reference"]]["id"] != e["claim_id"]
            or claims[e["reference"]]["status"] != "accepted"
        )
    ]
    refused_wrong = [
        e["reference"]
        for e in refused
        if claims.get(e["reference"], {}).get("status") != "rejected"
    ]
    figures.update(
        {
            "clients": CLIENTS,
            "claims_sent": total,
            "claim_amount": amount_cents / 100,
            "load_seconds": round(load_seconds, 1),
            "restart": f"pg_ctl restart -m {mode}",
            "restart_at_s": round(restart_at - load_started, 1),
            "pg_ctl_restart_seconds": round(restart_seconds, 2),
            "final_answers": {str(k): v for k, v in statuses.items()},
            "requests": len(tries),
            "answers_not_final": dict(Counter(str(t[1]) for t in not_final)),
            "not_final_examples": sorted({t[2] or str(t[1]) for t in not_final})[:5],
            "claims_retried": sum(1 for e in logs if len(e["tries"]) > 1),
            "retries_answered_as_replay": sum(1 for e in logs if e["replayed"]),
            "error_window_s": window,
            "acknowledged_lost": len(lost),
            "acknowledged_wrong": len(wrong),
            "refused_but_recorded_otherwise": len(refused_wrong),
            "claims_in_db": books["claims_total"],
            "vouchers": books["vouchers"],
            "duplicate_references": len(books["duplicate_references"]),
            "duplicate_idempotency_keys": len(books["duplicate_idempotency_keys"]),
            "reconciliation": books["reconciliation"],
            "audit_chain_problems": len(books["audit_chain_problems"]),
        }
    )
    assert len(logs) == total
    assert statuses[None] == 0, "a client gave up on a claim"
    assert set(statuses) <= {201, 422}, statuses
    assert not lost, lost[:5]
    assert not wrong, wrong[:5]
    assert not refused_wrong, refused_wrong[:5]
    assert books["claims_total"] == total  # one claim per reference, none extra
    assert not books["duplicate_references"]
    assert not books["duplicate_idempotency_keys"]
    assert not books["claims_with_more_than_one_charge"]
    assert not books["accepted_without_charge"] and not books["rejected_with_charge"]
    for voucher in books["vouchers"]:
        assert 0 <= voucher["spent_cents"] <= voucher["cap_cents"], voucher
        assert voucher["spent_cents"] == voucher["ledger_spent_cents"], voucher
        assert voucher["cap_cents"] == voucher["ledger_cap_cents"], voucher
    accepted_subsidy = sum(int(Decimal(e["subsidy"]) * 100) for e in acknowledged)
    assert accepted_subsidy == sum(v["spent_cents"] for v in books["vouchers"])
    assert refused, "the demand should exceed the caps: no claim was refused"
    assert books["reconciliation"] == {"status": "clean", "discrepancies": 0}
    assert books["audit_chain_problems"] == []
    assert not_final, "the restart went unnoticed: no request failed"
    Path(workdir / "client-log.json").write_text(json.dumps(logs))
