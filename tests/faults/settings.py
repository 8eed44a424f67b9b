"""Settings for the processes the fault tests start: gunicorn, Celery worker and beat, and the
helper commands of tests/faults/remote.py.

The project's base settings, as production runs them (persistent, health-checked database
connections; acks_late, reject_on_worker_lost, prefetch 1; a real broker when REDIS_URL is set),
on the database and the Redis the test started. Only the schedule is faster: the sweeps run
every FAULTS_SWEEP_SECONDS instead of every minute, so that catching up takes seconds.
"""

from config.settings.base import *  # noqa: F403
from config.settings.base import CELERY_BEAT_SCHEDULE, env

SECRET_KEY = "faults-key-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["*"]
STATIC_ROOT = None  # nothing is collected; WhiteNoise would warn about a missing directory
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # seeding speed only

_sweep = env.float("FAULTS_SWEEP_SECONDS", default=2.0)
for _name in ("notifications-sweep", "letters-sweep"):
    CELERY_BEAT_SCHEDULE[_name] = {**CELERY_BEAT_SCHEDULE[_name], "schedule": _sweep}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
