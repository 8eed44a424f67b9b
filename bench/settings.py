"""Settings for the benchmarks: the project's base settings on a throw-away PostgreSQL database.

bench/common.py sets BENCH_DATABASE_URL (the database the script created) before Django starts,
in the script and in the gunicorn it launches, so both sides see the same rows and sessions.
"""

import environ

from config.settings.base import *  # noqa: F403
from config.settings.base import env

SECRET_KEY = "bench-key-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.urls"  # config.urls plus the baseline view

DATABASES = {
    "default": {
        **environ.Env.db_url_config(
            env("BENCH_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/bench_pages")
        ),
        # As in production (config/settings/base.py): persistent connections, health-checked.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "ATOMIC_REQUESTS": False,
    }
}

STATIC_ROOT = None  # nothing is collected; WhiteNoise would warn about a missing directory
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
