"""Settings shared by every environment. Everything that differs comes from the environment."""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# --- Database -------------------------------------------------------------------------------
# No DATABASE_URL means the embedded default: one SQLite file, with IMMEDIATE transactions so
# that two writers queue on the database lock instead of failing half-way with "database is
# locked" when one upgrades a read transaction.
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    _sqlite_path = Path(str(env.path("SQLITE_PATH", default=BASE_DIR / "var" / "db.sqlite3")))
    _sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(_sqlite_path),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services own their transactions
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Applications ---------------------------------------------------------------------------
INSTALLED_APPS = [
    "audit.admin_apps.AuditedAdminConfig",  # django.contrib.admin, every change audited
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_htmx",
    "core",
    "accounts",
    "audit",
    "notifications",
    "vouchers",
    "applicants",
    "disbursement",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.RequestSizeLimitMiddleware",  # before anything reads the body
    "core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.RequestContextMiddleware",
    # After RequestContextMiddleware, so that a timeout logout is audited with its address.
    "core.middleware.SessionTimeoutMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    # Inside the request context: any refused request (403, NotAllowedError) leaves an event.
    "audit.middleware.PermissionDenialAuditMiddleware",
    "core.middleware.DomainErrorMiddleware",
    # Last, so that a locked-out login is answered before any view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.site",
            ],
        },
    },
]

# --- Accounts and security ------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out login before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
EMAIL_VERIFICATION_MAX_AGE = env.int("EMAIL_VERIFICATION_MAX_AGE", default=60 * 60 * 24 * 3)
INVITATION_VALID_DAYS = env.int("INVITATION_VALID_DAYS", default=14)

# django-axes: lock an email + IP pair after repeated failures, for a cool-off period.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.two_factor_views.locked_out"  # 429 page, JSON for the API
# The cool-off runs from the lockout: more attempts during it do not extend it (an attacker
# behind the victim's address must not keep them out for good).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]  # never stored in access logs
AXES_VERBOSE = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content-Security-Policy, sent by core.middleware.ContentSecurityPolicyMiddleware. No inline
# script anywhere (app.js is a file); inline style *attributes* are allowed for the progress bars'
# computed widths (style-src-attr), but no <style> elements. QR codes and charts are inline SVG.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "style-src-attr": ["'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
CONTENT_SECURITY_POLICY_REPORT_ONLY = env.bool("DJANGO_CSP_REPORT_ONLY", default=False)
CONTENT_SECURITY_POLICY_REPORT_URI = env("DJANGO_CSP_REPORT_URI", default="")
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

# Sessions end after SESSION_IDLE_TIMEOUT seconds without a request and SESSION_ABSOLUTE_TIMEOUT
# seconds after login (core.middleware.SessionTimeoutMiddleware); activity is recorded once a
# SESSION_ACTIVITY_RESOLUTION, so that not every request writes the session.
SESSION_IDLE_TIMEOUT = env.int("DJANGO_SESSION_IDLE_TIMEOUT", default=30 * 60)
SESSION_ABSOLUTE_TIMEOUT = env.int("DJANGO_SESSION_ABSOLUTE_TIMEOUT", default=8 * 60 * 60)
SESSION_ACTIVITY_RESOLUTION = 60
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT

# Second factor (accounts/two_factor.py): staff roles must log in with an authenticator app.
# On unless switched off; config/settings/local.py and test.py switch it off (see docs/security.md).
TWO_FACTOR_REQUIRED = env.bool("DJANGO_TWO_FACTOR_REQUIRED", default=True)
TWO_FACTOR_LOGIN_PENDING_SECONDS = 300  # between the password and the code
TWO_FACTOR_MAX_TRIES = 5  # wrong codes before the password must be entered again
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Compute Vouchers")

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("DJANGO_TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files --------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = str(env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "var" / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = str(env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "var" / "media"))
MEDIA_URL = "/media/"  # never served directly: documents go through a permission check
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DOCUMENT_MAX_BYTES = env.int("DOCUMENT_MAX_BYTES", default=10 * 1024 * 1024)
# The largest request body accepted at all: one document and the form around it.
REQUEST_MAX_BYTES = env.int("REQUEST_MAX_BYTES", default=DOCUMENT_MAX_BYTES + 1024 * 1024)
DOCUMENTS_PER_APPLICATION = env.int("DOCUMENTS_PER_APPLICATION", default=20)
# Uploads are streamed to disk above this size; the document limit is checked separately.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000

# --- Email ----------------------------------------------------------------------------------
# Console by default; EMAIL_URL=smtp://user:pass@host:587/?tls=True or a file backend by env.
if env("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env(
        "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
    )
EMAIL_FILE_PATH = str(env.path("DJANGO_EMAIL_FILE_PATH", default=BASE_DIR / "var" / "mail"))
DEFAULT_FROM_EMAIL = env(
    "DJANGO_DEFAULT_FROM_EMAIL", default="Compute Vouchers <noreply@localhost>"
)
EMAIL_TIMEOUT = env.int("DJANGO_EMAIL_TIMEOUT", default=10)

# --- Celery ---------------------------------------------------------------------------------
# No REDIS_URL means the embedded default: tasks run eagerly in the web process. A failing task
# must not turn a committed request into an error page, so eager errors are not propagated;
# the outbox sweep picks up whatever did not go out.
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Publishing must fail fast when Redis is down: the request has already committed its outbox
# row, and the sweep delivers it later. Without these limits kombu retries for a long time.
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    # A message a worker took and never acknowledged (the worker died) is delivered again
    # after this long; the database sweeps recover letters, emails and reports sooner.
    "visibility_timeout": 3600,
}
CELERY_TASK_PUBLISH_RETRY = False
# No task runs forever: a hung WeasyPrint gets SoftTimeLimitExceeded (a failed attempt,
# retried or shown), then is killed. Both stay under the visibility timeout, so a message is
# never handed to a second worker while the first still runs it (tests/core/test_celery_config).
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=840)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=900)
OUTBOX_SWEEP_SECONDS = env.int("OUTBOX_SWEEP_SECONDS", default=60)
OUTBOX_STALE_SECONDS = env.int("OUTBOX_STALE_SECONDS", default=300)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.ExactJSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",  # documents the error responses
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"auth": env("API_AUTH_THROTTLE", default="10/minute")},
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Compute Vouchers API",
    "DESCRIPTION": (
        "Apply for compute vouchers, review and decide applications, redeem vouchers and audit "
        'the ledger. Amounts are decimal strings in the program\'s currency ("150000.00"), '
        'never floats; errors share one shape: {"error": {"code", "message", "fields"}}.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI from the installed package, not a CDN: the docs work on a closed network.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"RegionEnum": "core.regions.REGIONS"},
}

CACHES = {
    "default": (
        env.cache("REDIS_CACHE_URL")
        if env("REDIS_CACHE_URL", default="")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
TRUST_X_FORWARDED_FOR = env.bool("DJANGO_TRUST_X_FORWARDED_FOR", default=False)
CSRF_FAILURE_VIEW = "core.views.csrf_failure"

# --- Periodic work: the one place schedules are declared ------------------------------------
# django-celery-beat copies these into its database tables on start; admins can see them there.
CELERY_BEAT_SCHEDULE = {
    # Deliver emails whose on-commit task never ran (Redis was down, a worker died mid-send).
    # Every minute keeps the worst-case delay short; an idle sweep is one indexed query.
    "notifications-sweep": {
        "task": "notifications.tasks.notification_sweep_task",
        "schedule": OUTBOX_SWEEP_SECONDS,
    },
}

# --- Award letters ----------------------------------------------------------------------------
LETTER_TEMPLATE = env("LETTER_TEMPLATE", default="pdf/award_letter.html")
LETTER_TEMPLATE_VERSION = "2026.1"  # bump when templates/pdf/award_letter.html changes
LETTER_MAX_ATTEMPTS = env.int("LETTER_MAX_ATTEMPTS", default=3)
LETTER_STALE_SECONDS = env.int("LETTER_STALE_SECONDS", default=300)
# Font files with Chinese glyphs (organization names are usually Chinese, whatever the letter's
# language). The first existing match is used; none means the letter fails with a clear error.
LETTER_CJK_FONT_GLOBS = env.list(
    "LETTER_CJK_FONT_GLOBS",
    default=[
        "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/**/*CJK*Regular*",
        "/usr/share/fonts/**/wqy*",
    ],
)
CELERY_BEAT_SCHEDULE["letters-sweep"] = {
    # Render letters whose task was never queued (Redis down at approval) or whose worker died.
    "task": "vouchers.tasks.award_letter_sweep_task",
    "schedule": 60,
}
CELERY_BEAT_SCHEDULE["reconcile-ledger"] = {
    # Nightly at 02:30 (CELERY_TIMEZONE): after the day's claims and the hourly expiry, before
    # officers start. About half a second per million ledger entries; a run with discrepancies
    # raises an alert and emails the officers; a failed run is stored as failed.
    "task": "disbursement.tasks.reconcile_ledger_task",
    "schedule": crontab(hour=2, minute=30),
}
CELERY_BEAT_SCHEDULE["audit-checkpoint"] = {
    # Hourly at :17, between the other jobs: seal every audit stream's head (one snapshot read,
    # no lock a writer waits for), so that a deleted whole stream is detectable by
    # verify_audit_chain once sealed. An hour bounds what a seal cannot yet protect.
    "task": "audit.tasks.audit_checkpoint_seal_task",
    "schedule": crontab(minute=17),
}
CELERY_BEAT_SCHEDULE["vouchers-expire"] = {
    # Vouchers expire at the end of their validity; hourly is precise enough for day-based
    # validity and each voucher is released in its own small transaction.
    "task": "vouchers.tasks.vouchers_expire_task",
    "schedule": 3600,
}

# --- Reports ----------------------------------------------------------------------------------
REPORT_STALE_SECONDS = env.int("REPORT_STALE_SECONDS", default=600)  # a claim with no progress
REPORT_AUDIT_MAX_EVENTS = env.int("REPORT_AUDIT_MAX_EVENTS", default=20_000)
REPORT_PDF_MAX_ROWS = env.int("REPORT_PDF_MAX_ROWS", default=5_000)  # the CSV always has all
REPORT_REGISTER_WORKERS = env.int("REPORT_REGISTER_WORKERS", default=2)
CELERY_BEAT_SCHEDULE["reports-sweep"] = {
    # Queue again reports whose task was lost (Redis down at request time) or whose worker died;
    # every two minutes is soon enough for a report and an idle sweep is one indexed query.
    "task": "reports.tasks.report_sweep_task",
    "schedule": 120,
}
