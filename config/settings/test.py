"""Settings for the test suite.

PostgreSQL is used when DATABASE_URL is set or a server answers on 127.0.0.1:5432; otherwise
SQLite, and tests marked `postgres` are skipped (loudly, see tests/conftest.py). With
REQUIRE_POSTGRES=1 a missing PostgreSQL is an error.
"""

import os
import socket

import environ

from .base import *  # noqa: F403
from .base import BASE_DIR, env


def _postgres_answers(host: str = "127.0.0.1", port: int = 5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


SECRET_KEY = "test-key-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["*"]

_url = env("DATABASE_URL", default="")
if not _url and _postgres_answers():
    _url = "postgres://postgres@127.0.0.1:5432/compute_vouchers"
if _url:
    DATABASES = {"default": environ.Env.db_url_config(_url)}
    DATABASES["default"]["ATOMIC_REQUESTS"] = False
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Lets flush() TRUNCATE the append-only audit table between transactional tests
    # (see audit/migrations/0002_append_only_trigger.py). Row UPDATE/DELETE stay refused.
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c audit.allow_truncate=on"
    else:  # an explicit sqlite:// URL
        DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
    _test_name = env("TEST_DATABASE_NAME", default="test_compute_vouchers")
    if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
        _test_name = str(BASE_DIR / "var" / f"{_test_name}.sqlite3")  # never a file in the cwd
    DATABASES["default"]["TEST"] = {"NAME": _test_name}
elif env.bool("REQUIRE_POSTGRES", default=False):
    raise RuntimeError("REQUIRE_POSTGRES=1 but no DATABASE_URL is set and nothing answers on :5432")
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "var" / "test.sqlite3",
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            "ATOMIC_REQUESTS": False,
            "TEST": {"NAME": str(BASE_DIR / "var" / "test.sqlite3")},
        }
    }

# Eager Celery unless a test starts a real worker (tests/conftest.py: celery_worker_real).
CELERY_TASK_ALWAYS_EAGER = True
# As in the embedded mode: an eager task that fails (or retries) never fails its caller.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_BROKER_URL = env("REDIS_URL", default="") or "memory://"

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
MEDIA_ROOT = str(BASE_DIR / "var" / "test-media" / str(os.getpid()))
STATIC_ROOT = str(BASE_DIR / "var" / "test-static")
os.makedirs(STATIC_ROOT, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
AXES_FAILURE_LIMIT = 5
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "1000/minute"}}  # noqa: F405
LOGGING = {"version": 1, "disable_existing_loggers": False}
# Most tests log staff in with client.force_login and no authenticator app; the second-factor
# tests (tests/security/) switch enforcement on with the `settings` fixture.
TWO_FACTOR_REQUIRED = False
