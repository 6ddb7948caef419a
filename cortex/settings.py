"""Settings of the Cortex service, all read here, once, from the environment (see README)."""

from __future__ import annotations

from pathlib import Path

import django
from corsheaders.defaults import default_headers as cors_default_headers
from django.core.exceptions import ImproperlyConfigured

from cortex.env import env_bool, env_choice, env_db, env_int, env_list, env_rate, env_str
from cortex.proxies import TrustedProxies
from errors.conf import SETTINGS as errors_settings_declared
from errors.logging import build_logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

ENVIRONMENT = env_choice("ENVIRONMENT", ["development", "production", "test"], "production")
DEVELOPMENT = ENVIRONMENT == "development"

# `ENVIRONMENT=development` turns these on unless the variable itself says otherwise.
DEBUG = env_bool("DEBUG", DEVELOPMENT)
INCLUDE_EXCEPTION_DETAILS = env_bool("INCLUDE_EXCEPTION_DETAILS", DEVELOPMENT)
LOG_LEVEL = env_choice(
    "LOG_LEVEL",
    ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    "DEBUG" if DEVELOPMENT else "INFO",
    upper=True,
)

_secret_key = env_str("SECRET_KEY")
if _secret_key is None:
    if ENVIRONMENT == "production":
        raise ImproperlyConfigured(
            "SECRET_KEY must be set in production (or set ENVIRONMENT=development)."
        )
    _secret_key = "insecure-development-key-not-for-production"
SECRET_KEY = _secret_key

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "knox",  # API tokens, stored hashed (accounts)
    "channels",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "errors",
    "safewrites",  # ETag/If-Match and Idempotency-Key for the API's writes
    "accounts",
    "eventstream",
    "workspaces",
    "console",
    "cortex",  # the service: what it sets up at start-up (cortex/apps.py)
    # Django's background tasks in this database, run by `manage.py db_worker` (TASKS below).
    "django_tasks_db",
]
if django.VERSION < (6, 0):
    # Django 5.2: the tasks API comes from the django-tasks backport, an app of its own.
    INSTALLED_APPS.insert(INSTALLED_APPS.index("django_tasks_db"), "django_tasks")

MIDDLEWARE = [
    # X-Frame-Options, nosniff and the HTML pages' CSP on every response, even those the next
    # one makes itself (cortex/security.py).
    "cortex.security.SecurityHeadersMiddleware",
    "errors.middleware.CorrelationIdMiddleware",
    "cortex.proxies.TrustedProxyMiddleware",  # REMOTE_ADDR: the client, per TRUSTED_PROXIES
    "corsheaders.middleware.CorsMiddleware",
    # At most MAX_CONCURRENT_REQUESTS requests past this point at once (each may hold a database
    # connection); the others wait their turn in the event loop (errors/limits.py).
    "errors.limits.ConcurrencyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The answer's language from Accept-Language (LANGUAGES below), with Content-Language and
    # `Vary: Accept-Language`; error messages, DRF's and Django's own come in it. Logs stay in
    # English.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "cortex.urls"
WSGI_APPLICATION = "cortex.wsgi.application"
ASGI_APPLICATION = "cortex.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------------
_database = env_db("DATABASE_URL", "sqlite:///db.sqlite3")
# PostgreSQL's pool size, and the default of the concurrency limit on any database (below).
_pool_max_size = env_int("DB_POOL_MAX_SIZE", 10, minimum=1)
if _database["ENGINE"] == "django.db.backends.sqlite3":
    _name = str(_database["NAME"])
    if _name != ":memory:" and not Path(_name).is_absolute():
        _database["NAME"] = str(BASE_DIR / _name)
    # A write transaction takes the write lock when it begins, so concurrent writers wait for
    # each other (up to the busy timeout) instead of failing at once with "database is locked"
    # when a read turns into a write; WAL lets readers go on meanwhile.
    _database["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 5,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif _database["ENGINE"] == "django.db.backends.postgresql":
    from cortex.database import bounded_connection_class

    _options = dict(_database.get("OPTIONS") or {})  # type: ignore[call-overload]
    # The server ends a statement after DB_STATEMENT_TIMEOUT_MS (504), but cannot end a wait when
    # the link is held open and nothing comes back: every wait for the server also ends after
    # DB_CLIENT_TIMEOUT seconds on our side, closing the connection (503, cortex/database.py).
    # A slow statement must meet the server's timeout first, or it would cost a connection.
    _client_timeout = env_int("DB_CLIENT_TIMEOUT", 10, minimum=1)
    _pool_timeout = env_int("DB_POOL_TIMEOUT", 2, minimum=1)
    _statement_timeout_ms = env_int("DB_STATEMENT_TIMEOUT_MS", 5000, minimum=1)
    if _statement_timeout_ms >= _client_timeout * 1000:
        raise ImproperlyConfigured(
            f"DB_STATEMENT_TIMEOUT_MS ({_statement_timeout_ms}) must be below DB_CLIENT_TIMEOUT "
            f"({_client_timeout} s = {_client_timeout * 1000} ms), so that a slow statement is "
            "cut short by the server before the client gives up on the connection"
        )
    # A short connect timeout answers 503 quickly when the server is unreachable, instead of
    # hanging the request.
    _options.setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 2, minimum=1))
    _options.setdefault("options", f"-c statement_timeout={_statement_timeout_ms}")
    # On a real partition the kernel gives up on the link too: data unacknowledged for
    # DB_CLIENT_TIMEOUT, or an idle link whose keepalive probes go unanswered (from 5 s idle on,
    # every 2 s), so a pooled connection to a vanished server fails its check at once.
    _options.setdefault("keepalives", 1)
    _options.setdefault("keepalives_idle", 5)
    _options.setdefault("keepalives_interval", 2)
    _options.setdefault("keepalives_count", 3)
    _options.setdefault("tcp_user_timeout", _client_timeout * 1000)
    # Under ASGI every request runs its sync code in a thread of its own, so persistent
    # per-thread connections would pile up; a pool is what Django recommends there. With
    # CONN_HEALTH_CHECKS the pool checks a connection before lending it, so the service recovers
    # by itself when the database comes back.
    _options.setdefault(
        "pool",
        {
            "min_size": env_int("DB_POOL_MIN_SIZE", 1),
            "max_size": _pool_max_size,
            "timeout": _pool_timeout,
            # Every wait for the server ends after DB_CLIENT_TIMEOUT, the check of a pooled
            # connection before it is lent after DB_POOL_TIMEOUT (cortex/database.py).
            "connection_class": bounded_connection_class(
                _client_timeout, check_timeout=_pool_timeout
            ),
        },
    )
    _database["OPTIONS"] = _options
    _database["CONN_MAX_AGE"] = 0
    _database["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and cache ----------------------------------------------------------
# Each process receives every workspace event of its streams on one channel (eventstream.hub);
# that channel holds up to this many events while the process is busy fanning one out (a
# layer drops what does not fit; Channels' default is 100).
_CHANNEL_CAPACITY = 1000
REDIS_URL = env_str("REDIS_URL")
# Seconds any use of Redis on a request path may take (connect, or wait for an answer) before it
# counts as Redis being down (cortex/redis_guard.py): the throttles then count per process, an
# operation that needs Redis answers 503 redis_unavailable.
REDIS_TIMEOUT = env_int("REDIS_TIMEOUT_MS", 1000, minimum=1) / 1000
# Seconds in `Retry-After` of a 503 redis_unavailable.
REDIS_RETRY_AFTER = 5
if REDIS_URL:
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.retry import Retry as SyncRetry

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # channels_redis blocks up to 5 s waiting for messages (BZPOPMIN);
                        # redis-py's default socket timeout is also 5 s, so a quiet spell could
                        # time the read out first and kill the process's receive loop.
                        "socket_timeout": 15,
                        # A pooled connection that Redis (or the network) dropped fails on its
                        # next use; without a retry that fails a publish or a group leave.
                        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), 3),
                    }
                ],
                "capacity": _CHANNEL_CAPACITY,
            },
        }
    }
    CACHES = {
        "default": {
            # Django's, with one connection pool per process (cortex/cache.py).
            "BACKEND": "cortex.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {  # for redis-py's connection pool
                "socket_connect_timeout": REDIS_TIMEOUT,
                "socket_timeout": REDIS_TIMEOUT,
                # Retried once, at once, when a pooled connection was dropped (a Redis restart); a
                # Redis that does not answer is not asked twice.
                "retry": SyncRetry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "eventstream.compat.InMemoryChannelLayer",
            "CONFIG": {"capacity": _CHANNEL_CAPACITY},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Django's ModelBackend, but the database connection goes back to the pool while a password is
# hashed (accounts/backends.py).
AUTHENTICATION_BACKENDS = ["accounts.backends.ModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The languages the service answers in (its own messages: locale/, the errors app's: errors/
# locale/); a client asking for another gets LANGUAGE_CODE, which must be one of them.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Django REST framework and the errors app ------------------------------------------------
REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "errors.handler.exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.ApiUserRateThrottle"],
    # Throttles identify a client by REMOTE_ADDR, which cortex.proxies sets from TRUSTED_PROXIES;
    # DRF's default would take the whole X-Forwarded-For, which any client can write.
    "NUM_PROXIES": 0,
    "DEFAULT_THROTTLE_RATES": {
        "login": env_rate("LOGIN_THROTTLE_RATE", "10/minute"),
        "user": env_rate("USER_THROTTLE_RATE", "600/minute"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Bounded nesting, no NaN/Infinity: hostile bodies are 400s, not RecursionError 500s.
    "DEFAULT_PARSER_CLASSES": ["errors.parsers.JSONParser"],
    # Documents every operation's error responses, derived from the view (errors/openapi.py).
    "DEFAULT_SCHEMA_CLASS": "errors.openapi.ErrorResponsesAutoSchema",
}

# --- OpenAPI schema (/api/schema/) and Swagger UI (/api/docs/) ----------------------------------
SPECTACULAR_SETTINGS = {
    "TITLE": "Cortex API",
    "DESCRIPTION": "Workspaces and API tokens. Every error is answered with the JSON envelope "
    '`{"error": {"code", "message", "correlation_id", "details"?}}`; the codes are '
    "listed in docs/errors.md.",
    "VERSION": "1.0.0",
    # The schema and the docs are public: they document the API, they do not serve it.
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI's files come from drf-spectacular-sidecar (served by cortex/urls.py), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Seconds an API token stays valid after it is issued.
TOKEN_TTL = env_int("TOKEN_TTL", 24 * 60 * 60, minimum=1)
# Tokens a user may hold at once (each login makes one); a login beyond it deletes the oldest.
TOKEN_LIMIT_PER_USER = env_int("TOKEN_LIMIT_PER_USER", 10, minimum=1)
# Wrong passwords for one account within the window after which it can only be tried from
# addresses without failures of their own (accounts/lockout.py).
LOGIN_ACCOUNT_FAILURES = env_int("LOGIN_ACCOUNT_FAILURES", 10, minimum=1)
LOGIN_ACCOUNT_WINDOW = env_int("LOGIN_ACCOUNT_WINDOW", 15 * 60, minimum=1)

# --- Reverse proxies -------------------------------------------------------------------------
# Empty: the socket peer is the client and X-Forwarded-* headers are dropped. A count (`1`):
# that many proxies in front; or their addresses/networks (`10.0.0.0/8,127.0.0.1`). See
# cortex/proxies.py; a bad value stops start-up.
TRUSTED_PROXIES = env_str("TRUSTED_PROXIES", "") or ""
if TrustedProxies.parse(TRUSTED_PROXIES, name="TRUSTED_PROXIES"):
    # Believed only from a trusted proxy: the middleware drops the header from any other peer.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- HTTPS and security headers (cortex/security.py) -----------------------------------------
# TLS_PROXY=true: clients reach the service only over HTTPS, through the TLS-terminating proxy of
# TRUSTED_PROXIES (its X-Forwarded-Proto tells HTTPS requests apart). Plain-HTTP requests are then
# redirected to HTTPS, except /healthz and /metrics (probes and Prometheus inside the network),
# and cookies go over HTTPS only. Off by default, so plain HTTP on 127.0.0.1 keeps working.
TLS_PROXY = env_bool("TLS_PROXY", False)
if TLS_PROXY:
    if not TrustedProxies.parse(TRUSTED_PROXIES, name="TRUSTED_PROXIES"):
        raise ImproperlyConfigured(
            "TLS_PROXY needs TRUSTED_PROXIES (the proxy's addresses, or how many there are): "
            "without it no request is known to have come over HTTPS, and every one would be "
            "redirected to HTTPS forever."
        )
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# HSTS, sent with HTTPS responses only: browsers then refuse plain HTTP to this host for that many
# seconds, which cannot be taken back before they pass. Start small (300), then raise it.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
X_FRAME_OPTIONS = "DENY"  # Django's default, stated: no page of the service may be framed
# cortex.security.SecurityHeadersMiddleware sets X-Frame-Options; Django's own middleware for it
# would cost a thread hop per request under ASGI, and W002 only looks for that one.
SILENCED_SYSTEM_CHECKS = ["security.W002"]

ERRORS_INCLUDE_EXCEPTION_DETAILS = INCLUDE_EXCEPTION_DETAILS
# What errors may change in other libraries at start-up (docs/integrations.md): the service uses
# them all. httpx and requests carry the correlation id on the webhook and other outgoing calls.
ERRORS_INTEGRATIONS = [
    "celery",
    "commands",
    "django_tasks",
    "httpx",
    "prometheus_multiprocess",
    "requests",
    "sentry",
]
ERRORS_JSON_PATH_PREFIXES = ["/api/"]  # the API answers JSON even to a browser
ERRORS_ENABLE_MONITORING = env_bool("ENABLE_ERROR_MONITORING", True)
ERRORS_ALERT_THRESHOLD = env_int("ERROR_ALERT_THRESHOLD", 10, minimum=1)
# /metrics: open unless limited to clients in these networks (comma-separated, `10.0.0.0/8,
# 127.0.0.1`; REMOTE_ADDR, which cortex.proxies makes the real client) and/or to requests with
# `Authorization: Bearer <METRICS_BEARER_TOKEN>`. Checked at start as errors.conf declares them.
ERRORS_METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", [])
ERRORS_METRICS_BEARER_TOKEN = env_str("METRICS_BEARER_TOKEN")
_declared = {setting.name: setting for setting in errors_settings_declared}
if _declared["ERRORS_METRICS_ALLOWED_NETWORKS"].validate(ERRORS_METRICS_ALLOWED_NETWORKS):
    raise ImproperlyConfigured(
        "METRICS_ALLOWED_NETWORKS must be comma-separated IP networks or addresses such as "
        f"10.0.0.0/8,127.0.0.1; got {','.join(ERRORS_METRICS_ALLOWED_NETWORKS)!r}"
    )
if _declared["ERRORS_METRICS_BEARER_TOKEN"].validate(ERRORS_METRICS_BEARER_TOKEN):
    raise ImproperlyConfigured(  # a secret: not echoed
        "METRICS_BEARER_TOKEN must be letters, digits and -._~+/ (an RFC 6750 bearer token)"
    )
CSRF_FAILURE_VIEW = "errors.views.csrf_failure"

# --- Overload (errors.limits) ------------------------------------------------------------------
# Requests let past the concurrency limit at once: by default as many as the PostgreSQL pool has
# connections, so a burst queues for its turn instead of failing on the pool's timeout as if the
# database were down. A request still waiting after REQUEST_QUEUE_TIMEOUT seconds gets 503
# service_busy with Retry-After.
ERRORS_MAX_CONCURRENT_REQUESTS = env_int("MAX_CONCURRENT_REQUESTS", _pool_max_size, minimum=1)
ERRORS_QUEUE_TIMEOUT = env_int("REQUEST_QUEUE_TIMEOUT", 5, minimum=1)

# --- Server-Sent Events (GET /api/events/) ----------------------------------------------------
SSE_HEARTBEAT_SECONDS = env_int("SSE_HEARTBEAT_SECONDS", 15, minimum=1)
SSE_RETRY_MS = env_int("SSE_RETRY_MS", 3000, minimum=0)
# Chunks a stream may hold for a client that reads slowly before it is closed.
SSE_QUEUE_SIZE = env_int("SSE_QUEUE_SIZE", 64, minimum=1)
# Events kept per owner for clients that reconnect with Last-Event-ID.
SSE_REPLAY_BUFFER_SIZE = env_int("SSE_REPLAY_BUFFER_SIZE", 100, minimum=1)
# Streams one user may have open in one process; more are refused with 429 (eventstream/hub.py).
SSE_MAX_STREAMS_PER_USER = env_int("SSE_MAX_STREAMS_PER_USER", 8, minimum=1)
# Joining a stream's group and publishing are bounded by REDIS_TIMEOUT and skipped while Redis is
# known to be down; a stream's answers carry the service's security headers.
SSE_GUARD = "cortex.redis_guard"
# Seconds a ticket from POST /api/events/tickets/ opens a stream (single use; at most 60).
SSE_TICKET_TTL_SECONDS = env_int("SSE_TICKET_TTL_SECONDS", 30, minimum=1)
SSE_RESPONSE_HEADERS = "cortex.security.security_headers"

# --- Webhook of workspace events --------------------------------------------------------------
# When set, each workspace.created event is POSTed there as JSON by a background task (Django's
# tasks, or Celery below); a failed delivery is retried, then logged and counted, and never
# fails the create request.
WORKSPACE_WEBHOOK_URL = env_str("WORKSPACE_WEBHOOK_URL")
if WORKSPACE_WEBHOOK_URL and not WORKSPACE_WEBHOOK_URL.startswith(("http://", "https://")):
    # Not echoed: webhook URLs often carry a secret.
    raise ImproperlyConfigured("WORKSPACE_WEBHOOK_URL must be an http:// or https:// URL.")
# Per attempt: connect, write and each read may take this long.
WORKSPACE_WEBHOOK_TIMEOUT_MS = env_int("WORKSPACE_WEBHOOK_TIMEOUT_MS", 2000, minimum=1)
WORKSPACE_WEBHOOK_ATTEMPTS = env_int("WORKSPACE_WEBHOOK_ATTEMPTS", 3, minimum=1)
# Wait before the second attempt; doubled before each further one.
WORKSPACE_WEBHOOK_BACKOFF_MS = env_int("WORKSPACE_WEBHOOK_BACKOFF_MS", 250)

# --- Background work: Celery on Redis (cortex/celery.py) -------------------------------------
# Unset: the webhook is a Django task run by `manage.py db_worker` (TASKS). Set: published to
# this broker and delivered by Celery workers (`celery -A cortex.celery worker`), with retries
# and redelivery.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
if CELERY_BROKER_URL and not CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured("CELERY_BROKER_URL must be a redis:// or rediss:// URL.")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task that no worker acknowledged within this many seconds (its worker died) is delivered
    # again; it must exceed the longest task including its retry countdown.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1),
    "socket_connect_timeout": 2,
}
# A create request publishes after commit: with the broker down it gives up quickly (the
# delivery is logged and counted as failed) instead of holding the answer.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # with late acks, a worker holds one task at a time
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Background tasks: Django's tasks in the database (django-tasks-db) ---------------------------
# Enqueued tasks are rows of this database; `manage.py db_worker` runs them (`make run` starts
# one). Without CELERY_BROKER_URL the webhook is delivered this way (workspaces/tasks.py).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- Safe writes (safewrites): ETag/If-Match and Idempotency-Key -----------------------------
# PUT, PATCH and DELETE without If-Match get 428. Off: clients that edit without having loaded
# the workspace (scripts, curl) keep working; the console and the JavaScript client send If-Match
# whenever they know the version (README, "Safe writes").
SAFEWRITES_REQUIRE_IF_MATCH = env_bool("REQUIRE_IF_MATCH", False)
# How long a stored Idempotency-Key answer is replayed (24 h), and how long a request holds its
# key before a retry may take it over (it died, or is slower than this).
SAFEWRITES_IDEMPOTENCY_TTL = 24 * 60 * 60
SAFEWRITES_IDEMPOTENCY_LOCK = 10

# --- CORS ------------------------------------------------------------------------------------
CORS_ORIGINS = env_list("CORS_ORIGINS", [])
CORS_ALLOW_ALL_ORIGINS = CORS_ORIGINS == ["*"]
CORS_ALLOWED_ORIGINS = [] if CORS_ALLOW_ALL_ORIGINS else CORS_ORIGINS
CORS_EXPOSE_HEADERS = ["X-Correlation-ID", "Retry-After", "ETag", "Idempotent-Replayed"]
# A page on an allowed origin may send its own correlation id and trace context (the JavaScript
# client sends X-Correlation-ID with every request): its preflight must allow them.
CORS_ALLOW_HEADERS = (
    *cors_default_headers,
    "x-correlation-id",
    "traceparent",
    "tracestate",
    "if-match",
    "if-none-match",
    "idempotency-key",
)

# --- The HTTP server (daphne; cortex/server.py) -----------------------------------------------
# cortex/asgi.py hardens daphne unless this is off: bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (any
# content type) refused with 413 while they arrive, the header deadline below, the access log as
# JSON records, the open-file limit raised to the hard limit.
DAPHNE_HOOKS = env_bool("DAPHNE_HOOKS", True)
# Seconds a connection has to deliver a request's complete headers, counted from when it opens or
# its previous response ended (so also the keep-alive idle limit); 0 turns the deadline off.
HTTP_HEADER_TIMEOUT = env_int("HTTP_HEADER_TIMEOUT", 10)

# --- Logging ---------------------------------------------------------------------------------
LOGGING = build_logging_config(
    level=LOG_LEVEL,
    fmt=env_choice("LOG_FORMAT", ["json", "console"], "json"),
    log_file=env_str("LOG_FILE"),
    max_bytes=env_int("LOG_FILE_MAX_SIZE", 10 * 1024 * 1024, minimum=1),
    backup_count=env_int("LOG_FILE_BACKUP_COUNT", 5),
)
# One line per request: daphne's access log (`cortex.access`, cortex/server.py), which also sees
# the event stream and bodies refused by the server; errors' own request line stays off.
LOGGING["loggers"]["errors.request"] = {"level": "INFO"}
