"""Claims racing over real HTTP (reliability plan M1 and M4).

A live server (a thread and a database connection per request), one voucher of 150,000.00, and
bursts of 60 client threads released together by a barrier. Whatever the order the database
serializes them in, the voucher never goes over its cap; every 201 has exactly one ledger entry
and every 422 none. The same reference sent 100 times (50 at once, 50 after) makes one claim and
100 identical answers; the same reference with other content is a 409 that stores nothing.
Figures go to test-artifacts/disbursement/http_race.json.
"""

import json
import random
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.db import connections
from django.db.models import Sum
from django.utils import timezone

from accounts.services import api_token_create
from disbursement.models import Claim, LedgerEntry
from tests.artifacts import record_figures
from tests.concurrency import run_concurrently
from vouchers.models import Voucher

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 60  # the shared PostgreSQL allows 100 connections; the live server takes one each


def _body(voucher: Voucher, reference: str, amount_cents: int) -> dict[str, Any]:
    today = timezone.localdate().isoformat()
    amount = str(Decimal(amount_cents) / 100)
    return {
        "voucher_code": voucher.code,
        "reference": reference,
        "invoice_number": f"INV-{reference}",
        "invoice_total": amount,
        "currency": voucher.currency,
        "service_period_start": today,
        "service_period_end": today,
        "lines": [{"chip_origin": "domestic", "gpu_hours": "10", "amount": amount}],
    }


RETRIES = {"count": 0}


def _post(url: str, token: str, body: dict[str, Any]) -> requests.Response:
    """As a careful client does: a connection refused or reset (the test server's listen queue
    is short) is retried with the same reference, which is safe because claims are idempotent."""
    for attempt in range(20):
        try:
            return requests.post(
                url, json=body, headers={"Authorization": f"Token {token}"}, timeout=60
            )
        except requests.ConnectionError:
            RETRIES["count"] += 1
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError(f"no answer after 20 tries: {body['reference']}")


def _burst(url: str, token: str, bodies: list[dict[str, Any]]) -> list[tuple[int, Any, float]]:
    """POST every body from its own thread, all released at once; (status, json, seconds)."""
    queue = iter(bodies)
    lock = threading.Lock()

    def post() -> tuple[int, Any, float]:
        with lock:
            body = next(queue)
        started = time.perf_counter()
        response = _post(url, token, body)
        return response.status_code, response.json(), time.perf_counter() - started

    answers = run_concurrently(post, threads=len(bodies))
    failures = [a for a in answers if isinstance(a, BaseException)]
    assert not failures, failures[:3]
    return answers


def _p95(seconds: list[float]) -> float:
    ordered = sorted(seconds)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


@pytest.fixture
def provider_token(provider_staff: Any) -> str:
    return api_token_create(user=provider_staff, name="race")[1]


@pytest.mark.parametrize("policy", ["reject", "clamp"])
def test_bursts_of_claims_over_http_never_pass_the_cap(
    policy, live_server, active_voucher, provider_token
):
    Voucher.objects.filter(pk=active_voucher.pk).update(over_cap_policy=policy)
    url = f"{live_server.url}/api/v1/claims/"
    rng = random.Random(f"M1-{policy}")
    cap = active_voucher.cap_cents
    RETRIES["count"] = 0
    answers = []
    for burst in range(3):
        # Domestic lines at 50%: a mean subsidy of about 1,667.00, 180 claims asking ~2x the cap.
        bodies = [
            _body(active_voucher, f"B{burst}-{n}", rng.randint(1_00, 6_666_66))
            for n in range(THREADS)
        ]
        answers += _burst(url, provider_token, bodies)
    connections.close_all()

    statuses = [status for status, _body, _s in answers]
    assert set(statuses) <= {201, 422}, [a for a in answers if a[0] not in (201, 422)][:3]
    voucher = Voucher.objects.get(pk=active_voucher.pk)
    ledger = voucher.ledger.aggregate(s=Sum("spent_delta_cents"))["s"] or 0
    over_cap = max(0, voucher.spent_cents - cap)
    assert over_cap == 0 and voucher.spent_cents == ledger
    accepted = {body["id"] for status, body, _s in answers if status == 201}
    refused = {body["id"] for status, body, _s in answers if status == 422}
    charged = set(LedgerEntry.objects.filter(kind="charge").values_list("claim_id", flat=True))
    assert charged == accepted and LedgerEntry.objects.filter(kind="charge").count() == len(
        accepted
    )
    assert set(Claim.objects.filter(status="rejected").values_list("pk", flat=True)) == refused
    granted = sum(int(Decimal(b["subsidy"]) * 100) for s, b, _ in answers if s == 201)
    assert granted == voucher.spent_cents  # what the 201s said is what was charged
    record_figures(
        "disbursement/http_race.json",
        f"M1 over-cap race ({policy})",
        {
            "requests": len(answers),
            "concurrent": THREADS,
            "accepted_201": len(accepted),
            "rejected_422": len(refused),
            "cap_cents": cap,
            "spent_cents": voucher.spent_cents,
            "over_cap_cents": over_cap,
            "subsidy_in_201_answers_cents": granted,
            "p95_seconds": round(_p95([s for _st, _b, s in answers]), 3),
            "connection_retries": RETRIES["count"],
        },
    )


def test_one_reference_sent_a_hundred_times_makes_one_claim(
    live_server, active_voucher, provider_token
):
    url = f"{live_server.url}/api/v1/claims/"
    RETRIES["count"] = 0
    body = _body(active_voucher, "SAME-REF", 20_000_00)
    at_once = _burst(url, provider_token, [body] * 50)
    after = _burst(url, provider_token, [body] * 50)
    changed = _burst(url, provider_token, [_body(active_voucher, "SAME-REF", 20_000_01)])
    connections.close_all()

    answers = [(status, json.dumps(body, sort_keys=True)) for status, body, _s in at_once + after]
    assert len(set(answers)) == 1 and answers[0][0] == 201, set(answers)
    assert changed[0][0] == 409 and changed[0][1]["error"]["code"] == "idempotency_conflict"
    assert Claim.objects.count() == 1 and LedgerEntry.objects.filter(kind="charge").count() == 1
    voucher = Voucher.objects.get(pk=active_voucher.pk)
    assert voucher.spent_cents == 10_000_00
    record_figures(
        "disbursement/http_race.json",
        "M4 idempotent replay",
        {
            "same_reference_requests": 100,
            "identical_answers": sum(1 for a in answers if a == answers[0]),
            "claims": 1,
            "ledger_entries": 1,
            "changed_content_status": changed[0][0],
            "charges_after_conflict": LedgerEntry.objects.filter(kind="charge").count(),
            "connection_retries": RETRIES["count"],
        },
    )
