"""Shared fixtures. PostgreSQL-only tests are marked `postgres` and skipped loudly on SQLite."""

import os
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import User
from applicants import services as applicant_services
from tests.factories import (
    OrganizationFactory,
    ProgramFactory,
    ProviderFactory,
    UserFactory,
    pdf_upload,
)

# Every service that writes must write an audit event; checked on every test (see the module).
pytest_plugins = ["tests.audit_guard"]

_SKIPPED_FOR_SQLITE: list[str] = []


def _on_postgres() -> bool:
    from django.conf import settings

    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if _on_postgres():
        return
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError("REQUIRE_POSTGRES=1 but the tests are configured for SQLite")
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL or start a server on :5432)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
            _SKIPPED_FOR_SQLITE.append(item.nodeid)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    db = "PostgreSQL" if _on_postgres() else "SQLite"
    terminalreporter.write_sep("=", f"database for this run: {db}", bold=True)
    if _SKIPPED_FOR_SQLITE:
        terminalreporter.write_sep(
            "!", f"{len(_SKIPPED_FOR_SQLITE)} TESTS SKIPPED: NO POSTGRESQL", red=True, bold=True
        )
        for nodeid in _SKIPPED_FOR_SQLITE:
            terminalreporter.write_line(f"  skipped (needs PostgreSQL): {nodeid}")


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def applicant(db: Any) -> User:
    return UserFactory(role=User.Role.APPLICANT)


@pytest.fixture
def other_applicant(db: Any) -> User:
    return UserFactory(role=User.Role.APPLICANT)


@pytest.fixture
def reviewer(db: Any) -> User:
    return UserFactory(role=User.Role.REVIEWER)


@pytest.fixture
def approver(db: Any) -> User:
    return UserFactory(role=User.Role.APPROVER)


@pytest.fixture
def auditor(db: Any) -> User:
    return UserFactory(role=User.Role.AUDITOR)


@pytest.fixture
def provider_user(db: Any) -> User:
    return UserFactory(role=User.Role.PROVIDER)


@pytest.fixture
def finance(db: Any) -> User:
    return UserFactory(role=User.Role.FINANCE)


@pytest.fixture
def provider(db: Any) -> Any:
    return ProviderFactory()


@pytest.fixture
def program(db: Any, provider: Any) -> Any:
    return ProgramFactory(providers=[provider])


@pytest.fixture
def organization(applicant: User) -> Any:
    return OrganizationFactory(owner=applicant)


@pytest.fixture
def other_organization(other_applicant: User) -> Any:
    return OrganizationFactory(owner=other_applicant)


COMPLETE_ANSWERS = {
    "title": "Legal LLM",
    "summary": "Fine-tune a model for contract review.",
    "description": "Data, training, evaluation.",
    "gpu_hours": 46_080,
    "gpu_model": "Ascend 910B",
    "chip_origin": "domestic",
    "compute_plan": "64 cards for 30 days.",
    "requested_amount_cents": 180_000_00,
    "declares_truthful": True,
    "declares_no_double_funding": True,
    "declares_no_provider_affiliation": True,
    "declared_by_name": "Li Wei",
}


@pytest.fixture
def draft(applicant: User, organization: Any, program: Any) -> Any:
    return applicant_services.application_create(
        actor=applicant, organization_id=organization.pk, program_id=program.pk
    )


@pytest.fixture
def complete_draft(applicant: User, draft: Any, provider: Any) -> Any:
    applicant_services.application_update(
        actor=applicant,
        application_id=draft.pk,
        values={**COMPLETE_ANSWERS, "intended_provider": provider},
    )
    applicant_services.document_add(
        actor=applicant, application_id=draft.pk, kind="business_licence", upload=pdf_upload()
    )
    draft.refresh_from_db()
    return draft


@pytest.fixture
def submitted(applicant: User, complete_draft: Any) -> Any:
    return applicant_services.application_submit(actor=applicant, application_id=complete_draft.pk)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def api_as(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def _redis_url() -> str:
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


def require_redis() -> str:
    """The Redis URL; skips the test when Redis does not answer, fails it if REDIS_URL was set."""
    url = _redis_url()
    if not _redis_answers(url):
        if os.environ.get("REDIS_URL"):
            pytest.fail(f"REDIS_URL={url} is set but Redis does not answer")
        pytest.skip("needs Redis on 127.0.0.1:6379 (or REDIS_URL)")
    return url


@pytest.fixture
def real_celery_worker(transactional_db: Any) -> Any:
    """A real Celery worker (in a thread) consuming a private queue on the real Redis broker.

    Tasks published by the code under test travel through Redis and run in the worker thread,
    which has its own database connection, so they see only committed data, as in production.
    """
    import uuid

    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    url = require_redis()
    queue = f"test-{uuid.uuid4().hex[:8]}"
    saved = {k: app.conf.get(k) for k in ("broker_url", "task_always_eager", "task_default_queue")}
    app.conf.update(broker_url=url, task_always_eager=False, task_default_queue=queue)
    _reset_broker_pools(app)
    try:
        with start_worker(
            app, queues=[queue], perform_ping_check=False, loglevel="WARNING", shutdown_timeout=20
        ):
            yield app
    finally:
        app.conf.update(saved)
        _reset_broker_pools(app)


def _reset_broker_pools(app: Any) -> None:
    """Drop cached broker connections so the next publish uses the current broker_url.

    Celery's app.pool is kombu's process-wide pool for that URL: closing it in place would leave
    a closed pool in kombu's registry, so the registry itself is reset.
    """
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def wait_until(predicate: Any, timeout: float = 15.0, interval: float = 0.05) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def declare_no_conflict(officer: User, application: Any) -> None:
    """What an officer does first on any application: declare no conflict of interest."""
    from vouchers.services import conflict_declare

    conflict_declare(actor=officer, application_id=application.pk, has_conflict=False)
