"""smsbridge settings, read from the environment (see .env.example)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from . import sentry
from .logs import settings_logging

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Swagger UI's files, served as the app's own static files (the API docs).
    "drf_spectacular_sidecar",
    # Before providers, whose admin replaces auditlog's list of entries.
    "auditlog",
    "providers",
    "campaigns",
    "ops",
]

MIDDLEWARE = [
    # First, so that every line logged while a request is answered carries its id.
    "config.logs.RequestIdMiddleware",
    # Next, so that even a redirect or a refusal from the others carries it.
    "config.content_security.ContentSecurityPolicyMiddleware",
    # /healthz and /metrics, answered before the host check and the HTTPS
    # redirect: a load balancer or Prometheus asks by IP address, over HTTP.
    "ops.middleware.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Names the admin user in audit history entries (providers/audit/).
    "providers.audit.middleware.AdminActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"
    )
}
# Keep each thread's connection between requests: opening one (and, on SQLite,
# running its PRAGMAs) cost more than a whole delivery-report callback. Health
# checks drop a connection the database closed before it is reused.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", 600))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The web server, the worker and delivery-report callbacks write to the same
    # file: WAL lets readers run beside the writer, IMMEDIATE transactions queue
    # writers (waiting up to `timeout`) instead of failing with "database is
    # locked", and synchronous=NORMAL is WAL's safe setting without an fsync per
    # commit.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )
    # Tests that run a live server share one file database across threads; one
    # file per test process, so parallel runs never meet.
    DATABASES["default"]["TEST"] = {
        "NAME": str(
            Path(tempfile.gettempdir()) / f"smsbridge-test-{os.getpid()}.sqlite3"
        )
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "var" / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LOGIN_URL = "admin:login"


# Production hardening; every one of these is on unless DEBUG is.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int(
    "DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Every script and style the admin uses is a file under static/, so no inline
# script or style runs, and the page can be framed, embedded or re-based nowhere.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

# Audit history (django-auditlog). No client address is kept: behind a proxy,
# X-Forwarded-For is whatever the client chose to send.
AUDITLOG_DISABLE_REMOTE_ADDR = True

# Fernet keys, newest first; older keys only decrypt, so keys can be rotated
# with `manage.py rotate_encryption_keys` after prepending a new one.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")

# Where this deployment is reachable from providers; callback URLs are built on it.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Outgoing requests to providers.
SMS_ALLOW_PRIVATE_ENDPOINTS = env.bool("SMS_ALLOW_PRIVATE_ENDPOINTS", default=False)
SMS_CONNECT_TIMEOUT = env.float("SMS_CONNECT_TIMEOUT", default=5.0)
SMS_READ_TIMEOUT = env.float("SMS_READ_TIMEOUT", default=15.0)
# However the answer trickles in, a send ends this long after it started.
SMS_TOTAL_TIMEOUT = env.float("SMS_TOTAL_TIMEOUT", default=30.0)
SMS_RESPONSE_MAX_BYTES = env.int("SMS_RESPONSE_MAX_BYTES", default=64 * 1024)
SMS_MAX_SEGMENTS = env.int("SMS_MAX_SEGMENTS", default=10)
# The built-in fake 8x8 provider under /sandbox/ is served only when a key is set.
SMS_SANDBOX_API_KEY = env("SMS_SANDBOX_API_KEY", default="")
SMS_SANDBOX_SLOW_SECONDS = env.float("SMS_SANDBOX_SLOW_SECONDS", default=20.0)
SMS_SANDBOX_DLR_DELAY = env.float("SMS_SANDBOX_DLR_DELAY", default=1.5)

# Delivery reports.
DLR_TOKEN_GRACE_HOURS = env.int("DLR_TOKEN_GRACE_HOURS", default=24)
# Larger bodies are answered 413, JSON nested deeper 400; both are logged.
DLR_MAX_BODY_BYTES = env.int("DLR_MAX_BODY_BYTES", default=256 * 1024)
DLR_MAX_JSON_DEPTH = env.int("DLR_MAX_JSON_DEPTH", default=32)
# How often the Celery worker applies waiting delivery reports
# (campaigns/dlr/applying.py). Each round has a fixed cost, so fewer, larger
# rounds leave more of the CPUs to the callbacks: under bench_dlr_ingestion's
# load the worker spent 70 us a report every 0.5 s against 88 us every 0.2 s,
# and a report is still shown applied within half a second.
DLR_APPLY_EVERY_SECONDS = env.float("DLR_APPLY_EVERY_SECONDS", default=0.5)
# How long a web process trusts what it looked up of a callback URL's provider.
DLR_PROVIDER_CACHE_SECONDS = env.float("DLR_PROVIDER_CACHE_SECONDS", default=5.0)
DLR_STORED_BODY_CHARS = 16 * 1024
# Inbound replies: the most auto-replies one number gets in 24 hours, so two
# automatons answering each other stop (campaigns/inbound.py).
INBOUND_AUTO_REPLIES_PER_DAY = env.int("INBOUND_AUTO_REPLIES_PER_DAY", default=3)

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
_broker_dir = Path(env("CELERY_BROKER_DIR", default=str(BASE_DIR / "var" / "broker")))
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Exchange tables; kombu would put them in ./control otherwise.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
# Django's cache holds OAuth access tokens (providers/outbound/oauth.py), and every
# web and worker process must see the same ones, or each would fetch its own; the
# default per-process memory cache cannot. With a Redis broker, the same Redis
# (every machine shares it); otherwise files under var/cache/, which every process
# of this machine shares with no server to run or table to create. CACHE_URL
# (django-environ's syntax, e.g. locmemcache://) chooses another.
if "CACHE_URL" in os.environ:
    CACHES = {"default": env.cache("CACHE_URL")}
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CELERY_BROKER_URL,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(BASE_DIR / "var" / "cache"),
        }
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
SEND_SWEEP_SECONDS = env.float("SEND_SWEEP_SECONDS", default=15.0)
CELERY_BEAT_SCHEDULE = {
    # Reclaims a dead worker's claims and wakes campaigns with work ready.
    "sweep": {
        "task": "campaigns.tasks.sweep",
        "schedule": SEND_SWEEP_SECONDS,
        # A sweep left waiting behind busy workers is dropped, not run late.
        "options": {"expires": SEND_SWEEP_SECONDS},
    },
}

# Retention: `manage.py purge` deletes delivery-report log rows, test sends and
# finished campaigns' messages older than this (statistics are kept); beat runs it
# every PURGE_EVERY_HOURS when that is set (off by default).
PURGE_AFTER_DAYS = env.int("PURGE_AFTER_DAYS", default=90)
# How long an event's Idempotency-Key is remembered, with the answer it got.
IDEMPOTENCY_KEY_HOURS = env.int("IDEMPOTENCY_KEY_HOURS", default=24)
PURGE_EVERY_HOURS = env.float("PURGE_EVERY_HOURS", default=0)

# Status webhooks (campaigns/webhooks/): a failed delivery is tried again after
# WEBHOOK_RETRY_BASE_SECONDS, twice as long each time up to
# WEBHOOK_RETRY_MAX_SECONDS, until WEBHOOK_RETRY_HOURS after its first attempt.
# Timeouts and the address policy are the provider requests' (SMS_*).
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=10.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=3600.0)
WEBHOOK_RETRY_HOURS = env.float("WEBHOOK_RETRY_HOURS", default=24.0)
# After "Rotate secret", the old secret signs beside the new one this long.
WEBHOOK_SECRET_OVERLAP_HOURS = env.float("WEBHOOK_SECRET_OVERLAP_HOURS", default=24.0)
if PURGE_EVERY_HOURS > 0:
    CELERY_BEAT_SCHEDULE["purge"] = {
        "task": "campaigns.tasks.purge",
        "schedule": PURGE_EVERY_HOURS * 3600,
        "options": {"expires": PURGE_EVERY_HOURS * 3600},
    }

# Campaign audiences: rows a CSV (or pasted list) may hold, and the largest file
# read. Both are refused with a message naming the limit, the size before reading.
CAMPAIGN_MAX_RECIPIENTS = env.int("CAMPAIGN_MAX_RECIPIENTS", default=1_000_000)
CAMPAIGN_AUDIENCE_MAX_BYTES = env.int(
    "CAMPAIGN_AUDIENCE_MAX_BYTES", default=256 * 1024 * 1024
)

# Campaign delivery.
SEND_CHUNK_SIZE = env.int("SEND_CHUNK_SIZE", default=2000)
SEND_CONCURRENCY = env.int("SEND_CONCURRENCY", default=8)
SEND_MAX_ATTEMPTS = env.int("SEND_MAX_ATTEMPTS", default=5)
SEND_RETRY_BASE_SECONDS = env.float("SEND_RETRY_BASE_SECONDS", default=5.0)
SEND_RETRY_MAX_SECONDS = env.float("SEND_RETRY_MAX_SECONDS", default=600.0)
# Messages of an OAuth provider whose token endpoint fails wait this long and try
# again, for as long as it fails (nothing reached the provider; CleverTap: 120 s).
SEND_TOKEN_RETRY_SECONDS = env.float("SEND_TOKEN_RETRY_SECONDS", default=60.0)
# A working task renews its claim every quarter of this; the sweeper takes back
# the rows of one that stopped renewing (its worker died).
SEND_CLAIM_TIMEOUT = env.int("SEND_CLAIM_TIMEOUT", default=40)
# Tasks started per campaign; each sends chunk after chunk until none is left.
SEND_PARALLEL_TASKS = env.int("SEND_PARALLEL_TASKS", default=4)
# A provider whose requests fail this many times in a row (down, slow, refusing
# the credentials) is skipped for the cool-down, then probed with one request.
PROVIDER_BREAKER_FAILURES = env.int("PROVIDER_BREAKER_FAILURES", default=5)
PROVIDER_BREAKER_COOLDOWN_SECONDS = env.float(
    "PROVIDER_BREAKER_COOLDOWN_SECONDS", default=60.0
)
# How often messages waiting for a paused or archived provider look again.
PROVIDER_PAUSED_RECHECK_SECONDS = env.float(
    "PROVIDER_PAUSED_RECHECK_SECONDS", default=30.0
)
# Where processes on one machine share each provider's send rate when the broker
# is not Redis (see campaigns/throttle.py).
SEND_RATE_DIR = env("SEND_RATE_DIR", default=str(BASE_DIR / "var" / "rate"))

# Health and metrics (ops/): /healthz answers 503 when the freshest worker
# heartbeat is older than HEALTH_WORKER_MAX_AGE_SECONDS or the oldest waiting
# delivery report older than HEALTH_DLR_MAX_AGE_SECONDS; each check of the
# database and the broker gives up after HEALTH_TIMEOUT_SECONDS. /metrics is
# served only with a METRICS_TOKEN (several, comma-separated, for rotation).
HEALTH_TIMEOUT_SECONDS = env.float("HEALTH_TIMEOUT_SECONDS", default=2.0)
HEALTH_HEARTBEAT_SECONDS = env.float("HEALTH_HEARTBEAT_SECONDS", default=10.0)
HEALTH_WORKER_MAX_AGE_SECONDS = env.float("HEALTH_WORKER_MAX_AGE_SECONDS", default=60.0)
HEALTH_DLR_MAX_AGE_SECONDS = env.float("HEALTH_DLR_MAX_AGE_SECONDS", default=120.0)
METRICS_TOKENS = env.list("METRICS_TOKEN", default=[])

# Logs: plain lines, or one JSON object per line with the request, campaign,
# message and task they are about (config/logs.py).
LOG_FORMAT = env("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT is {LOG_FORMAT!r}: use text or json.")
LOGGING = settings_logging(
    level=env("LOG_LEVEL", default="INFO"), log_format=LOG_FORMAT
)

SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    sentry.start(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default=""),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
