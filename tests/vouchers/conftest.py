from typing import Any

import pytest

from tests.conftest import declare_no_conflict
from vouchers import services

SCORES = {"innovation": 4, "team": 3, "compute_plan": 5}


def make_ready(application: Any, *, reviewer: Any, approver: Any) -> Any:
    """Assign the reviewer (by the approver), review, and return the refreshed application."""
    from applicants.policies import COI_ROLES

    for officer in (reviewer, approver):
        if (
            officer.role in COI_ROLES
            and not application.conflict_declarations.filter(officer=officer).exists()
        ):
            declare_no_conflict(officer, application)
    services.reviewer_assign(actor=approver, application_id=application.pk, reviewer_id=reviewer.pk)
    services.review_submit(
        actor=reviewer,
        application_id=application.pk,
        scores=SCORES,
        recommendation="fund",
        comments="Credible team, clear plan.",
    )
    application.refresh_from_db()
    return application


@pytest.fixture
def ready(submitted: Any, reviewer: Any, approver: Any) -> Any:
    """A submitted application with its one required review: waiting for a decision."""
    return make_ready(submitted, reviewer=reviewer, approver=approver)


@pytest.fixture
def approved(ready: Any, approver: Any, django_capture_on_commit_callbacks: Any) -> Any:
    """Approved for 150,000.00 with its letter rendered (eager Celery)."""
    with django_capture_on_commit_callbacks(execute=True):
        services.application_approve(
            actor=approver, application_id=ready.pk, amount_cents=150_000_00
        )
    ready.refresh_from_db()
    return ready
