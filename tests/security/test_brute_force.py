"""Brute force against the login (reliability plan W6): sequential, concurrent, distributed.

The lock-out counts failures per (email, address). These tests measure how many guesses an
attacker really gets checked against the password: one by one, 30 at once behind a barrier
(threads with their own database connections, so the requests race in PostgreSQL), and from
10 addresses; and show the victim, from their own address, is never locked out by any of it.
Figures go to test-artifacts/security/brute_force.json.
"""

import threading
from collections import Counter

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.artifacts import record_figures
from tests.concurrency import run_concurrently
from tests.security.conftest import PASSWORD

ARTIFACT = "security/brute_force.json"


def _attempt(email: str, password: str, ip: str, client: Client | None = None) -> int:
    client = client or Client()
    response = client.post(
        reverse("accounts:login"), {"username": email, "password": password}, REMOTE_ADDR=ip
    )
    return response.status_code


class PasswordChecks:
    """Counts the guesses whose password was really checked (User.check_password calls)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self._lock = threading.Lock()
        real = User.check_password

        def counted(user: User, raw_password: str) -> bool:
            with self._lock:
                self.count += 1
            return real(user, raw_password)

        monkeypatch.setattr(User, "check_password", counted)


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> PasswordChecks:
    return PasswordChecks(monkeypatch)


@pytest.mark.django_db
def test_twenty_guesses_in_a_row_get_the_limit_and_no_more(applicant, checks):
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [_attempt(applicant.email, f"guess-{n}", "198.51.100.1") for n in range(20)]
    assert statuses == [200] * (limit - 1) + [429] * (20 - limit + 1)
    assert checks.count == limit
    assert _attempt(applicant.email, PASSWORD, "198.51.100.1") == 429
    record_figures(
        ARTIFACT,
        "sequential",
        {"attempts": 20, "passwords_checked": checks.count, "answers_429": 20 - limit + 1},
    )


@pytest.mark.django_db(transaction=True)
def test_thirty_guesses_at_once_get_at_most_the_limit(applicant, settings, checks):
    """30 threads wait at a barrier, then post at once, each on its own connection. Each login
    attempt on one email is serialized in the database (accounts.throttle), so the count is
    read after the previous attempt's failure was written: no attempt slips past the limit.
    The password is hashed as in production (PBKDF2, not the tests' fast MD5), so every check
    takes real time."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    applicant.set_password(PASSWORD)
    applicant.save(update_fields=["password"])
    limit = settings.AXES_FAILURE_LIMIT
    statuses = run_concurrently(
        lambda: _attempt(applicant.email, "wrong-guess", "198.51.100.2"), threads=30
    )
    counts = Counter(statuses)
    assert sum(counts.values()) == 30 and set(counts) <= {200, 429}, counts
    checked = checks.count
    assert checked == limit, counts
    assert _attempt(applicant.email, PASSWORD, "198.51.100.2") == 429
    record_figures(
        ARTIFACT,
        "concurrent",
        {
            "threads": 30,
            "passwords_checked": checked,
            "limit": limit,
            "slack": checked - limit,
            "answers": dict(counts),
        },
    )


@pytest.mark.django_db
def test_ten_addresses_get_the_limit_each_and_the_victim_still_logs_in(applicant, checks):
    limit = settings.AXES_FAILURE_LIMIT
    for n in range(10):
        ip = f"203.0.113.{n + 10}"
        before = checks.count
        statuses = [_attempt(applicant.email, f"guess-{m}", ip) for m in range(limit + 3)]
        assert statuses == [200] * (limit - 1) + [429] * 4, (ip, statuses)
        assert checks.count - before == limit, ip
        assert _attempt(applicant.email, PASSWORD, ip) == 429
    guesses = checks.count
    victim = Client()
    assert _attempt(applicant.email, PASSWORD, "192.0.2.50", victim) == 302
    assert victim.session["_auth_user_id"] == str(applicant.pk)
    record_figures(
        ARTIFACT,
        "distributed",
        {
            "addresses": 10,
            "passwords_checked": guesses,
            "per_address": limit,
            "victim_from_own_address": "logged in",
        },
    )
