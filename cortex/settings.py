"""Settings of the Cortex service, all read here, once, from the environment (see README)."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from cortex.env import env_bool, env_choice, env_db, env_int, env_list, env_rate, env_str
from errors.logging import build_logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

ENVIRONMENT = env_choice("ENVIRONMENT", ["development", "production", "test"], "production")
DEVELOPMENT = ENVIRONMENT == "development"

# `ENVIRONMENT=development` turns these on unless the variable itself says otherwise.
DEBUG = env_bool("DEBUG", DEVELOPMENT)
INCLUDE_EXCEPTION_DETAILS = env_bool("INCLUDE_EXCEPTION_DETAILS", DEVELOPMENT)
LOG_LEVEL = env_choice(
    "LOG_LEVEL", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    "DEBUG" if DEVELOPMENT else "INFO", upper=True,
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
    "rest_framework.authtoken",
    "channels",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "errors",
    "accounts",
    "workspaces",
]

MIDDLEWARE = [
    "errors.middleware.CorrelationIdMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
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
    _options = dict(_database.get("OPTIONS") or {})  # type: ignore[call-overload]
    # A short connect timeout answers 503 quickly when the server is unreachable, instead of
    # hanging the request; the statement timeout answers 504 instead of holding a worker.
    _options.setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 2, minimum=1))
    _options.setdefault(
        "options", f"-c statement_timeout={env_int('DB_STATEMENT_TIMEOUT_MS', 30000)}"
    )
    # Under ASGI every request runs its sync code in a thread of its own, so persistent
    # per-thread connections would pile up; a pool is what Django recommends there. With
    # CONN_HEALTH_CHECKS the pool checks a connection before lending it, so the service recovers
    # by itself when the database comes back.
    _options.setdefault(
        "pool",
        {
            "min_size": env_int("DB_POOL_MIN_SIZE", 1),
            "max_size": env_int("DB_POOL_MAX_SIZE", 10, minimum=1),
            "timeout": env_int("DB_POOL_TIMEOUT", 2, minimum=1),
        },
    )
    _database["OPTIONS"] = _options
    _database["CONN_MAX_AGE"] = 0
    _database["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and cache ----------------------------------------------------------
# Each process receives every workspace event of its streams on one channel (workspaces.hub);
# that channel holds up to this many events while the process is busy fanning one out (a
# layer drops what does not fit; Channels' default is 100).
_CHANNEL_CAPACITY = 1000
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialWithJitterBackoff

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
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "cortex.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": _CHANNEL_CAPACITY},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
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
    "DEFAULT_THROTTLE_RATES": {
        "login": env_rate("LOGIN_THROTTLE_RATE", "10/minute"),
        "user": env_rate("USER_THROTTLE_RATE", "600/minute"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # Documents every operation's error responses, derived from the view (errors/openapi.py).
    "DEFAULT_SCHEMA_CLASS": "errors.openapi.ErrorResponsesAutoSchema",
}

# --- OpenAPI schema (/api/schema/) and Swagger UI (/api/docs/) ----------------------------------
SPECTACULAR_SETTINGS = {
    "TITLE": "Cortex API",
    "DESCRIPTION": "Workspaces and API tokens. Every error is answered with the JSON envelope "
    "`{\"error\": {\"code\", \"message\", \"correlation_id\", \"details\"?}}`; the codes are "
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

ERRORS_INCLUDE_EXCEPTION_DETAILS = INCLUDE_EXCEPTION_DETAILS
ERRORS_JSON_PATH_PREFIXES = ["/api/"]  # the API answers JSON even to a browser
ERRORS_ENABLE_MONITORING = env_bool("ENABLE_ERROR_MONITORING", True)
ERRORS_ALERT_THRESHOLD = env_int("ERROR_ALERT_THRESHOLD", 10, minimum=1)
CSRF_FAILURE_VIEW = "errors.views.csrf_failure"

# --- Server-Sent Events (GET /api/events/) ----------------------------------------------------
SSE_HEARTBEAT_SECONDS = env_int("SSE_HEARTBEAT_SECONDS", 15, minimum=1)
SSE_RETRY_MS = env_int("SSE_RETRY_MS", 3000, minimum=0)
# Chunks a stream may hold for a client that reads slowly before it is closed.
SSE_QUEUE_SIZE = env_int("SSE_QUEUE_SIZE", 64, minimum=1)
# Events kept per owner for clients that reconnect with Last-Event-ID.
SSE_REPLAY_BUFFER_SIZE = env_int("SSE_REPLAY_BUFFER_SIZE", 100, minimum=1)

# --- Webhook of workspace events --------------------------------------------------------------
# When set, each workspace.created event is POSTed there as JSON from a background thread; a
# failed delivery is retried, then logged and counted, and never fails the create request.
WORKSPACE_WEBHOOK_URL = env_str("WORKSPACE_WEBHOOK_URL")
if WORKSPACE_WEBHOOK_URL and not WORKSPACE_WEBHOOK_URL.startswith(("http://", "https://")):
    # Not echoed: webhook URLs often carry a secret.
    raise ImproperlyConfigured("WORKSPACE_WEBHOOK_URL must be an http:// or https:// URL.")
# Per attempt: connect, write and each read may take this long.
WORKSPACE_WEBHOOK_TIMEOUT_MS = env_int("WORKSPACE_WEBHOOK_TIMEOUT_MS", 2000, minimum=1)
WORKSPACE_WEBHOOK_ATTEMPTS = env_int("WORKSPACE_WEBHOOK_ATTEMPTS", 3, minimum=1)
# Wait before the second attempt; doubled before each further one.
WORKSPACE_WEBHOOK_BACKOFF_MS = env_int("WORKSPACE_WEBHOOK_BACKOFF_MS", 250)

# --- CORS ------------------------------------------------------------------------------------
CORS_ORIGINS = env_list("CORS_ORIGINS", [])
CORS_ALLOW_ALL_ORIGINS = CORS_ORIGINS == ["*"]
CORS_ALLOWED_ORIGINS = [] if CORS_ALLOW_ALL_ORIGINS else CORS_ORIGINS
CORS_EXPOSE_HEADERS = ["X-Correlation-ID", "Retry-After"]

# --- Logging ---------------------------------------------------------------------------------
LOGGING = build_logging_config(
    level=LOG_LEVEL,
    fmt=env_choice("LOG_FORMAT", ["json", "console"], "json"),
    log_file=env_str("LOG_FILE"),
    max_bytes=env_int("LOG_FILE_MAX_SIZE", 10 * 1024 * 1024, minimum=1),
    backup_count=env_int("LOG_FILE_BACKUP_COUNT", 5),
)
