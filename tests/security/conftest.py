"""Fixtures for the web-security tests: a movable clock, logins through the real forms."""

import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts import two_factor
from accounts.models import User
from accounts.services import otp_device_confirm
from tests.security.matrix_world import (  # noqa: F401  (the authorization matrix's world)
    active_voucher,
    approved,
    matrix,
    provider_staff,
    ready,
    world,
)

PASSWORD = "correct-horse-battery"  # what tests.factories.UserFactory sets
STAFF_ROLES = [
    User.Role.REVIEWER,
    User.Role.APPROVER,
    User.Role.FINANCE,
    User.Role.AUDITOR,
    User.Role.ADMIN,
]


class Clock:
    """django.utils.timezone.now, frozen at a moment that tests move forward by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """Only the clock is mocked: timezone.now, wherever a module imported it by name
    (`from django.utils.timezone import now`, as django-axes does)."""
    from django.utils import timezone

    real = timezone.now
    fake = Clock(real())
    for module in list(sys.modules.values()):
        try:
            if getattr(module, "now", None) is real:
                monkeypatch.setattr(module, "now", fake)
        except Exception:  # noqa: S112  (modules with odd attribute access)
            continue
    monkeypatch.setattr(timezone, "now", fake)
    yield fake


def login(client: Client, user: User, *, ip: str = "127.0.0.1") -> Any:
    return client.post(
        reverse("accounts:login"),
        {"username": user.email, "password": PASSWORD},
        REMOTE_ADDR=ip,
    )


def enrol(user: User) -> Any:
    """Give `user` a confirmed authenticator app through the real service."""
    key = two_factor.new_key()
    device = otp_device_confirm(user=user, key=key, code=two_factor.current_code(key))
    assert device is not None
    return device


def next_code(device: Any, steps: int = 1) -> str:
    """A code the app shows `steps` periods after the last accepted one (codes work once)."""
    return two_factor.current_code(device.key, offset_steps=steps)


def login_with_code(client: Client, user: User, device: Any) -> Any:
    response = login(client, user)
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login_code")
    return client.post(reverse("accounts:login_code"), {"code": next_code(device)})
