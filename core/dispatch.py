"""Queue Celery work after commit without letting a broker outage fail the request."""

import logging
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def dispatch_after_commit(task: Any, **kwargs: Any) -> None:
    """Queue `task.delay(**kwargs)` once the current transaction commits.

    Publishing never fails the caller: the work is already recorded in the database (an outbox
    row, a pending letter), so if the broker is unreachable we log it and the scheduled sweep
    picks the work up later.
    """

    def _send() -> None:
        try:
            task.delay(**kwargs)
        except Exception:  # broker down or misconfigured; the sweep will retry
            logger.warning(
                "could not queue %s(%s); the sweep will retry", task.name, kwargs, exc_info=True
            )

    transaction.on_commit(_send)
