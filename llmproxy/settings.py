"""Settings, all read from the environment (and an optional `.env` file).

Every variable is documented in `.env.example`. The embedded default needs none
of them: SQLite in `DATA_DIR`, the local-memory cache, the ORM broker for
django-q2. Production sets `DATABASE_URL` (PostgreSQL) and `REDIS_URL`.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_dotenv = BASE_DIR / ".env"
if _dotenv.exists():
    environ.Env.read_env(str(_dotenv), overwrite=False)

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else generated once and kept in DATA_DIR."""
    configured = env.str("SECRET_KEY", default="")
    if configured:
        return configured
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Key for provider API keys at rest (Fernet, derived by SHA-256). Defaults to SECRET_KEY.
ENCRYPTION_KEY = env.str("ENCRYPTION_KEY", default="") or SECRET_KEY
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_q",
    "proxy",
    "security",
    "intelligence",
    "analytics",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",  # reads no Host for /healthz, /readyz
    # /healthz and /readyz for probes that call the process by its IP (see llmproxy/health.py)
    "llmproxy.health.ProbesMiddleware",
    # Static files (admin, dashboard) served by the app server itself: no separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "llmproxy.middleware.ApiErrorFormatMiddleware",  # a 405 on /v1 or /api answers in JSON
]

ROOT_URLCONF = "llmproxy.urls"
ASGI_APPLICATION = "llmproxy.asgi.application"

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

# --- Database -----------------------------------------------------------------
# An empty DATABASE_URL counts as unset (the Makefile's SQLite test run sets it empty).
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{DATA_DIR / 'llmproxy.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db.setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not memory: the proxy's DB thread and log writer use their own connections.
    _db.setdefault("TEST", {})["NAME"] = str(DATA_DIR / "test.sqlite3")
elif _db["ENGINE"] in ("django.db.backends.postgresql", "django.db.backends.postgresql_psycopg"):
    _db["ENGINE"] = "django.db.backends.postgresql"
    if env.bool("DATABASE_POOL", default=True):
        _db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": env.int("DATABASE_POOL_MAX", default=10),
            "timeout": 10,
        }
    _db.setdefault("TEST", {})["NAME"] = env.str("TEST_DATABASE_NAME", default="") or None
DATABASE_IS_POSTGRES = _db["ENGINE"] == "django.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, channel layer -------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Limits read the cache on the request path: a dead Redis must fail fast.
            "OPTIONS": {
                "socket_connect_timeout": env.float("REDIS_TIMEOUT", default=0.5),
                "socket_timeout": env.float("REDIS_TIMEOUT", default=0.5),
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            # Rate-limit windows and spend counters live here: room for many keys.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- django-q2 --------------------------------------------------------------------
Q_CLUSTER = {
    "name": "llmproxy",
    "orm": "default",
    "workers": env.int("Q_WORKERS", default=1),
    "timeout": 300,
    "retry": 360,
    "catch_up": False,
    "sync": env.bool("Q_SYNC", default=False),
    "poll": 1,
}

# --- Auth, i18n, static -------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the app and static/ directories: `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = True
LOGIN_URL = "/admin/login/"

# --- Dashboard, analytics, metrics ------------------------------------------------------
# How dashboard events reach other processes: auto (the channel layer when it is Redis,
# else the database outbox) | channels | database | local (this process only).
DASHBOARD_EVENT_TRANSPORT = env.str("DASHBOARD_EVENT_TRANSPORT", default="auto")
if DASHBOARD_EVENT_TRANSPORT not in ("auto", "channels", "database", "local"):
    raise environ.ImproperlyConfigured(
        "DASHBOARD_EVENT_TRANSPORT must be one of auto, channels, database, local"
    )
# Events are delivered in batches gathered over this window (seconds); the window grows
# towards the maximum as browsers connect (reached at 1,000) and as fan-out gets costly.
DASHBOARD_COALESCE_SECONDS = env.float("DASHBOARD_COALESCE_SECONDS", default=0.025)
DASHBOARD_COALESCE_MAX_SECONDS = env.float("DASHBOARD_COALESCE_MAX_SECONDS", default=0.05)
# Browsers written per event-loop turn in a fan-out pass (requests are served in between).
DASHBOARD_FANOUT_SLICE = env.int("DASHBOARD_FANOUT_SLICE", default=100)
# A browser that has not read its frames (64 KiB waiting unsent) for this long is
# disconnected (seconds); meanwhile its events wait in its bounded buffer.
DASHBOARD_CLIENT_STALL_SECONDS = env.float("DASHBOARD_CLIENT_STALL_SECONDS", default=30.0)
# Events buffered per browser; a browser that falls further behind loses its oldest.
DASHBOARD_CLIENT_BUFFER = env.int("DASHBOARD_CLIENT_BUFFER", default=500)
# Events buffered per process before delivery (oldest dropped beyond it).
DASHBOARD_HUB_BUFFER = env.int("DASHBOARD_HUB_BUFFER", default=10_000)
# Database transport: how often a web process polls for other processes' events, and
# how long outbox rows are kept (seconds).
DASHBOARD_POLL_SECONDS = env.float("DASHBOARD_POLL_SECONDS", default=0.1)
DASHBOARD_OUTBOX_KEEP_SECONDS = env.int("DASHBOARD_OUTBOX_KEEP_SECONDS", default=120)
# Rollups: how far back each run recomputes for records stored late (seconds), and how
# long minute rollups are kept (hours; hour and day rollups are kept).
ANALYTICS_LATE_SECONDS = env.int("ANALYTICS_LATE_SECONDS", default=300)
ANALYTICS_MINUTE_RETENTION_HOURS = env.int("ANALYTICS_MINUTE_RETENTION_HOURS", default=48)
# Bearer token for GET /metrics (Prometheus). Empty: /metrics answers 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- HTTPS and secure headers (docs/hardening.md) ------------------------------------------
# HTTPS_ONLY=true is the production profile behind a TLS-terminating reverse proxy:
# redirect to HTTPS, HSTS for a year, cookies only over HTTPS, trust X-Forwarded-Proto.
# Each setting can still be set on its own. `manage.py check --deploy` passes with it.
HTTPS_ONLY = env.bool("HTTPS_ONLY", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS_ONLY)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # load balancer probes over plain HTTP
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if HTTPS_ONLY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS_ONLY)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=HTTPS_ONLY)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS_ONLY)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS_ONLY)
if env.bool("TRUST_X_FORWARDED_PROTO", default=HTTPS_ONLY):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# --- Proxy --------------------------------------------------------------------------
# full: request and response bodies; metadata: their shape (counts, sizes, parameters),
# no text; off: no bodies. The request record itself is always written.
LOG_BODIES = env.str("LOG_BODIES", default="full")
if LOG_BODIES not in ("full", "metadata", "off"):
    raise environ.ImproperlyConfigured("LOG_BODIES must be one of full, metadata, off")
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
UPSTREAM_CONNECT_TIMEOUT = env.float("UPSTREAM_CONNECT_TIMEOUT", default=10.0)
UPSTREAM_READ_TIMEOUT = env.float("UPSTREAM_READ_TIMEOUT", default=600.0)
UPSTREAM_MAX_CONNECTIONS = env.int("UPSTREAM_MAX_CONNECTIONS", default=512)
# SSRF guard (docs/hardening.md): provider base URLs on private, loopback or link-local
# addresses are refused unless the provider allows them; the upstream seam re-checks each
# host at most once per UPSTREAM_ADDRESS_CHECK_SECONDS.
UPSTREAM_PRIVATE_NETWORK_GUARD = env.bool("UPSTREAM_PRIVATE_NETWORK_GUARD", default=True)
UPSTREAM_ADDRESS_CHECK_SECONDS = env.float("UPSTREAM_ADDRESS_CHECK_SECONDS", default=300.0)
# How often each server process checks for configuration changes made elsewhere.
CONFIG_REFRESH_SECONDS = env.float("CONFIG_REFRESH_SECONDS", default=0.5)
# The cyclic garbage collector's thresholds (generations 0, 1, 2) in server processes
# (llmproxy/asgi.py, which also freezes start-up objects). Python's are 700,10,10; ours
# make full collections, which stop the event loop, rare; the price is garbage in
# reference cycles kept longer between them (measured in bench/RESULTS.md).
SERVER_GC_THRESHOLDS = tuple(env.list("SERVER_GC_THRESHOLDS", cast=int, default=[10_000, 10, 10]))
if len(SERVER_GC_THRESHOLDS) != 3 or min(SERVER_GC_THRESHOLDS) < 1:
    raise environ.ImproperlyConfigured("SERVER_GC_THRESHOLDS must be three positive integers")

# Request-log batching writer.
LOG_BATCH_SIZE = env.int("LOG_BATCH_SIZE", default=200)
LOG_FLUSH_SECONDS = env.float("LOG_FLUSH_SECONDS", default=0.5)
LOG_SPILL_DIR = Path(env.str("LOG_SPILL_DIR", default=str(DATA_DIR / "spill")))
LOG_MAX_BODY_BYTES = env.int("LOG_MAX_BODY_BYTES", default=256 * 1024)
# Retention (docs/durability.md): days of request logs kept for a new namespace (each
# namespace has its own setting; 0 keeps logs forever), and the prune batch size.
LOG_RETENTION_DAYS = env.int("LOG_RETENTION_DAYS", default=30)
LOG_PRUNE_BATCH = env.int("LOG_PRUNE_BATCH", default=5000)
# Exact-match response cache (docs/cache.md): opted into per route or per request.
RESPONSE_CACHE_ALIAS = env.str("RESPONSE_CACHE_ALIAS", default="default")
RESPONSE_CACHE_DEFAULT_TTL_SECONDS = env.int("RESPONSE_CACHE_DEFAULT_TTL_SECONDS", default=3600)
RESPONSE_CACHE_MAX_TTL_SECONDS = env.int("RESPONSE_CACHE_MAX_TTL_SECONDS", default=7 * 24 * 3600)
RESPONSE_CACHE_MAX_ENTRY_BYTES = env.int("RESPONSE_CACHE_MAX_ENTRY_BYTES", default=1024 * 1024)

# Routing (docs/routing-and-limits.md): retries of a retryable failure on the same target,
# exponential backoff base, and the longest wait ever made (Retry-After included; a longer
# Retry-After moves on to the next target at once).
ROUTING_RETRIES = env.int("ROUTING_RETRIES", default=0)
ROUTING_BACKOFF_BASE = env.float("ROUTING_BACKOFF_BASE", default=0.25)
ROUTING_MAX_RETRY_WAIT = env.float("ROUTING_MAX_RETRY_WAIT", default=5.0)
# Circuit breaker per target (per process): failures in a row, and cooldown in seconds.
ROUTING_BREAKER_FAILURES = env.int("ROUTING_BREAKER_FAILURES", default=5)
ROUTING_BREAKER_COOLDOWN = env.float("ROUTING_BREAKER_COOLDOWN", default=30.0)
# Budgets when the shared cache is unreachable: false admits requests (fail open),
# true refuses them with 503. Rate limits always fail open.
BUDGETS_FAIL_CLOSED = env.bool("BUDGETS_FAIL_CLOSED", default=False)
# A request in flight holds its estimated cost against budgets; without max_tokens in
# the request, its answer is estimated at this many tokens.
BUDGET_HOLD_OUTPUT_TOKENS = env.int("BUDGET_HOLD_OUTPUT_TOKENS", default=1000)
# After a cache failure, limits skip the cache for this many seconds.
LIMITS_CACHE_RETRY_SECONDS = env.float("LIMITS_CACHE_RETRY_SECONDS", default=5.0)

# --- Security (docs/security.md) -------------------------------------------------------
# Output scanning holds back this many characters of a streamed response, so that a
# secret split across chunks is still caught before any of it reaches the client.
SECURITY_HOLD_BACK_CHARS = env.int("SECURITY_HOLD_BACK_CHARS", default=64)
# Prompts longer than this (characters) are screened on a worker thread, off the event loop.
SECURITY_THREAD_CHARS = env.int("SECURITY_THREAD_CHARS", default=16_000)

# Client addresses: requests from these peers (e.g. a load balancer, or 127.0.0.1 for the
# traffic simulator) may name the client in X-Forwarded-For. Empty: only the peer counts.
TRUSTED_PROXIES = frozenset(env.list("TRUSTED_PROXIES", default=[]))

# Anomaly detection (security/anomaly, docs/anomaly.md).
ANOMALY_DETECTION = env.bool("ANOMALY_DETECTION", default=True)
# Server processes sharing the traffic: fitted baselines and throttles are divided by it.
ANOMALY_SERVER_PROCESSES = env.int("ANOMALY_SERVER_PROCESSES", default=1)
# Days of request history the scheduled refit learns baselines from.
ANOMALY_BASELINE_DAYS = env.int("ANOMALY_BASELINE_DAYS", default=14)
# An anomaly not seen again for this long is resolved.
ANOMALY_RESOLVE_AFTER_MINUTES = env.int("ANOMALY_RESOLVE_AFTER_MINUTES", default=30)
# Requests per minute of a throttle whose rule names none.
ANOMALY_DEFAULT_THROTTLE_RPM = env.int("ANOMALY_DEFAULT_THROTTLE_RPM", default=10)
# Alert webhooks: timeout (seconds), and whether private/loopback addresses are allowed.
ANOMALY_WEBHOOK_TIMEOUT = env.float("ANOMALY_WEBHOOK_TIMEOUT", default=5.0)
ANOMALY_WEBHOOK_ALLOW_PRIVATE = env.bool("ANOMALY_WEBHOOK_ALLOW_PRIVATE", default=False)

# Provider credentials read at start-up (the variables the official SDKs read).
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="")
OPENROUTER_API_KEY = env.str("OPENROUTER_API_KEY", default="")
OPENROUTER_BASE_URL = env.str("OPENROUTER_BASE_URL", default="")
ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env.str("ANTHROPIC_BASE_URL", default="")
# Translation: max_tokens sent to Anthropic models when an OpenAI caller gave none.
ANTHROPIC_DEFAULT_MAX_TOKENS = env.int("ANTHROPIC_DEFAULT_MAX_TOKENS", default=4096)

# First admin account (`manage.py ensure_admin`, run by `make run`).
ADMIN_USERNAME = env.str("ADMIN_USERNAME", default="admin")
ADMIN_PASSWORD = env.str("ADMIN_PASSWORD", default="")
ADMIN_EMAIL = env.str("ADMIN_EMAIL", default="")

HOST = env.str("HOST", default="127.0.0.1")
PORT = env.int("PORT", default=8000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "httpx": {"level": "WARNING"},
    },
}

# --- Enhancements: Claude-proposed improvements (intelligence/services/suggestions.py) ---
# Nothing is sent to Claude unless SUGGESTIONS_API_KEY is set. The base URL is Anthropic's
# API, or this proxy's own URL (its /v1/messages) with a proxy key to use its routes.
SUGGESTIONS_API_KEY = env.str("SUGGESTIONS_API_KEY", default="")
SUGGESTIONS_BASE_URL = env.str("SUGGESTIONS_BASE_URL", default="https://api.anthropic.com")
SUGGESTIONS_MODEL = env.str("SUGGESTIONS_MODEL", default="claude-sonnet-4-5")
SUGGESTIONS_TIMEOUT_SECONDS = env.float("SUGGESTIONS_TIMEOUT_SECONDS", default=20.0)
SUGGESTIONS_SAMPLE_SIZE = env.int("SUGGESTIONS_SAMPLE_SIZE", default=8)
SUGGESTIONS_MIN_REQUESTS = env.int("SUGGESTIONS_MIN_REQUESTS", default=20)
SUGGESTIONS_SUCCESS_BELOW = env.float("SUGGESTIONS_SUCCESS_BELOW", default=0.8)
SUGGESTIONS_PER_RUN = env.int("SUGGESTIONS_PER_RUN", default=3)
# Optional LLM judge (intelligence/services/judge.py): share of successful answers Claude
# scores (0 = off), using the SUGGESTIONS_* Claude settings; at most this many per run.
JUDGE_SAMPLE_RATE = env.float("JUDGE_SAMPLE_RATE", default=0.0)
JUDGE_MAX_PER_RUN = env.int("JUDGE_MAX_PER_RUN", default=20)
