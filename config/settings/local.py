"""Settings for `make run` on a workstation: embedded SQLite and eager Celery unless env says."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# A development key only; production.py refuses to start without DJANGO_SECRET_KEY.
SECRET_KEY = env(
    "DJANGO_SECRET_KEY", default="local-development-key-not-for-production-use-0123456789"
)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"])
# The demo logins (seed_demo) work with a password alone unless DJANGO_TWO_FACTOR_REQUIRED=1;
# see docs/security.md for trying the second factor locally.
TWO_FACTOR_REQUIRED = env.bool("DJANGO_TWO_FACTOR_REQUIRED", default=False)
