"""Celery's settings keep the promises the reliability plan relies on (J2, J3, J7)."""

from django.conf import settings

from config.celery import app


def test_tasks_are_acknowledged_late_and_taken_one_at_a_time():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_every_task_ends_before_its_message_could_be_delivered_again():
    """A task still running when the visibility timeout ends is run a second time by another
    worker (Redis transport): the hard time limit must come first."""
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    soft, hard = app.conf.task_soft_time_limit, app.conf.task_time_limit
    assert 0 < soft < hard < visibility
    # Long enough for the slowest real task: the register of 100,000 vouchers renders in about
    # a minute (docs/benchmarks.md); a report's claim goes stale before it is killed anyway.
    assert soft >= settings.REPORT_STALE_SECONDS
    assert soft >= settings.LETTER_STALE_SECONDS
