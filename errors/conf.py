"""Each `ERRORS_*` setting declared once: name, check id, default, validator (docs/settings.md)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar, overload

from django.conf import settings
from django.core.signals import setting_changed

from .addresses import IPNetwork, parse_network
from .logging.config import LEVELS

T = TypeVar("T")
Validator = Callable[[Any], str | None]


# The names ERRORS_INTEGRATIONS accepts; docs/integrations.md says what each one changes.
INTEGRATIONS = (
    "celery",
    "commands",
    "django_tasks",
    "httpx",
    "prometheus_multiprocess",
    "requests",
    "sentry",
)


def kind(description: str) -> Callable[[Validator], Validator]:
    """Label a validator with the type it accepts, as the settings page shows it."""

    def label(validate: Validator) -> Validator:
        validate.kind = description  # type: ignore[attr-defined]
        return validate

    return label


@kind("bool")
def _is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be True or False"


@kind("str (header name)")
def _is_header(value: Any) -> str | None:
    # isascii(): str.isalnum() also accepts letters such as "é", which no HTTP header can carry.
    if (
        isinstance(value, str)
        and value
        and value.isascii()
        and all(c.isalnum() or c == "-" for c in value)
    ):
        return None
    return "must be a header name of ASCII letters, digits and '-'"


@kind("str or int (logging level)")
def _is_level(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return None
    if isinstance(value, str) and value.upper() in LEVELS:
        return None
    return f"must be a logging level: one of {', '.join(LEVELS)} or an int"


@kind("int ≥ 1")
def _positive_int(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return None
    return "must be an int of at least 1"


@kind("int ≥ 1 or None")
def _optional_positive_int(value: Any) -> str | None:
    return None if value is None else _positive_int(value)


@kind("number > 0")
def _positive_number(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return None
    return "must be a number greater than 0"


@kind("str")
def _is_str(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


@kind("list of str (URL path prefixes)")
def _path_prefixes(value: Any) -> str | None:
    if isinstance(value, list | tuple) and all(
        isinstance(p, str) and p.startswith("/") for p in value
    ):
        return None
    return "must be a list or tuple of URL path prefixes, each starting with '/'"


@kind("list of str (IP networks)")
def _networks(value: Any) -> str | None:
    if isinstance(value, list | tuple) and all(isinstance(n, str) for n in value):
        try:
            _networks_of(value)
        except ValueError:
            pass
        else:
            return None
    return 'must be a list or tuple of IP networks or addresses, such as "10.0.0.0/8"'


# RFC 6750's b64token: what an `Authorization: Bearer` header can carry.
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")


@kind("str (bearer token) or None")
def _bearer_token(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and _BEARER_TOKEN.fullmatch(value)):
        return None
    return "must be None or a token of letters, digits and -._~+/ (RFC 6750)"


@kind("list of str (integration names)")
def _integrations(value: Any) -> str | None:
    if isinstance(value, list | tuple) and all(n in INTEGRATIONS for n in value):
        return None
    return f"must be a list or tuple of integration names among {', '.join(INTEGRATIONS)}"


def _level(value: Any) -> int:
    if isinstance(value, int):
        return value
    return logging.getLevelNamesMapping().get(str(value).upper(), logging.DEBUG)


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One `ERRORS_*` setting; `check_id` refuses a bad value, a `secret` one is never shown."""

    name: str
    check_id: str
    default: Any
    validate: Validator
    meaning: str
    convert: Callable[[Any], T]
    secret: bool = field(default=False, kw_only=True)
    attr: str = field(default="", init=False)  # its name on ErrorsSettings

    @property
    def kind(self) -> str:
        """The type a value must have, in words."""
        return str(getattr(self.validate, "kind", "any"))

    @overload
    def __get__(self, instance: None, owner: type) -> Setting[T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> T: ...
    def __get__(self, instance: object | None, owner: type) -> Setting[T] | T:
        if instance is None:
            return self
        value = self.convert(getattr(settings, self.name, self.default))
        instance.__dict__[self.attr] = value  # read first from now on; `_reread` clears it
        return value

    def __set_name__(self, owner: type, attr: str) -> None:
        object.__setattr__(self, "attr", attr)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _networks_of(value: Any) -> tuple[IPNetwork, ...]:
    return tuple(parse_network(network, strict=False) for network in value)


class ErrorsSettings:
    """Typed access to the `ERRORS_*` settings, with their defaults (one declaration each)."""

    include_exception_details = Setting(
        "ERRORS_INCLUDE_EXCEPTION_DETAILS", "errors.E101", False, _is_bool,
        "add `debug_info` to 5xx bodies, only while `DEBUG` is on too", bool,
    )  # fmt: skip
    correlation_id_header = Setting(
        "ERRORS_CORRELATION_ID_HEADER", "errors.E102", "X-Correlation-ID", _is_header,
        "header read from requests and set on every response", str,
    )  # fmt: skip
    request_log_level = Setting(
        "ERRORS_REQUEST_LOG_LEVEL", "errors.E103", "DEBUG", _is_level,
        "level of the one line logged per completed request", _level,
    )  # fmt: skip
    db_retry_after = Setting(
        "ERRORS_DB_RETRY_AFTER", "errors.E104", 5, _positive_int,
        "seconds in `Retry-After` when the database is unreachable", int,
    )  # fmt: skip
    problem_details_default = Setting(
        "ERRORS_PROBLEM_DETAILS", "errors.E105", False, _is_bool,
        "answer every error as `application/problem+json`", bool,
    )  # fmt: skip
    problem_type_base = Setting(
        "ERRORS_PROBLEM_TYPE_BASE", "errors.E106", "/api/errors/", _is_str,
        "prefix of problem details' `type` URI (the code is appended); "
        "`errors.urls` serves those pages", str,
    )  # fmt: skip
    json_path_prefixes = Setting(
        "ERRORS_JSON_PATH_PREFIXES", "errors.E107", (), _path_prefixes,
        "URL path prefixes whose errors are always JSON, whatever the client's `Accept`", tuple,
    )  # fmt: skip
    monitoring_enabled = Setting(
        "ERRORS_ENABLE_MONITORING", "errors.E108", True, _is_bool,
        "Prometheus metrics and error-rate alerting (`errors.urls` serves `/metrics`)", bool,
    )  # fmt: skip
    alert_threshold = Setting(
        "ERRORS_ALERT_THRESHOLD", "errors.E109", 10, _positive_int,
        'server errors in a 60 s window that log "error threshold exceeded"', int,
    )  # fmt: skip
    propagate_correlation_id = Setting(
        "ERRORS_PROPAGATE_CORRELATION_ID", "errors.E110", True, _is_bool,
        "send `X-Correlation-ID` on outgoing httpx and requests calls and webhooks", bool,
    )  # fmt: skip
    json_max_depth = Setting(
        "ERRORS_JSON_MAX_DEPTH", "errors.E114", 64, _positive_int,
        "arrays and objects `errors.parsers.JSONParser` lets a request body nest; "
        "deeper is 400 `parse_error`", int,
    )  # fmt: skip
    metrics_allowed_networks = Setting(
        "ERRORS_METRICS_ALLOWED_NETWORKS", "errors.E115", (), _networks,
        'networks (`"10.0.0.0/8"`, `"127.0.0.1"`) whose clients (`REMOTE_ADDR`) may read '
        "`/metrics`, others get 403; empty: every client", _networks_of,
    )  # fmt: skip
    metrics_bearer_token = Setting(
        "ERRORS_METRICS_BEARER_TOKEN", "errors.E116", None, _bearer_token,
        "token `/metrics` asks for as `Authorization: Bearer <token>` (401 without it); "
        "`None`: no token", _optional_str, secret=True,
    )  # fmt: skip
    max_concurrent_requests = Setting(
        "ERRORS_MAX_CONCURRENT_REQUESTS", "errors.E117", None, _optional_positive_int,
        "requests `errors.limits.ConcurrencyLimitMiddleware` lets run at once (size it to "
        "the database pool); more wait their turn; `None`: no limit", _optional_int,
    )  # fmt: skip
    queue_timeout = Setting(
        "ERRORS_QUEUE_TIMEOUT", "errors.E118", 5.0, _positive_number,
        "seconds a request may wait for its turn before it is answered 503 `service_busy`",
        float,
    )  # fmt: skip
    queue_exempt_paths = Setting(
        "ERRORS_QUEUE_EXEMPT_PATHS", "errors.E119", ("/healthz", "/metrics"), _path_prefixes,
        "URL path prefixes that never wait in the queue (probes and metrics)", tuple,
    )  # fmt: skip
    busy_retry_after = Setting(
        "ERRORS_BUSY_RETRY_AFTER", "errors.E120", 1, _positive_int,
        "seconds in `Retry-After` of a 503 `service_busy`", int,
    )  # fmt: skip
    trace_response_header = Setting(
        "ERRORS_TRACE_RESPONSE_HEADER", "errors.E122", False, _is_bool,
        "send `traceresponse` (the request's trace id and span id) on responses to requests "
        "that belong to a trace", bool,
    )  # fmt: skip
    integrations = Setting(
        "ERRORS_INTEGRATIONS", "errors.E124", (), _integrations,
        "the other libraries `errors` may change at start-up, by name "
        "(docs/integrations.md); empty: none", tuple,
    )  # fmt: skip


SETTINGS: tuple[Setting[Any], ...] = tuple(
    value for value in vars(ErrorsSettings).values() if isinstance(value, Setting)
)


class Retired(NamedTuple):
    """A setting that is no longer read, and the check id it had: never given to another."""

    name: str
    check_id: str
    meaning: str
    instead: str


RETIRED: tuple[Retired, ...] = (
    Retired("ERRORS_INSTRUMENT_HTTP_CLIENTS", "errors.E111",
            "patched httpx's and requests' send methods",
            'name "httpx" and "requests" in ERRORS_INTEGRATIONS'),
    Retired("ERRORS_CORRELATE_COMMANDS", "errors.E112",
            "wrapped `BaseCommand.execute`", 'name "commands" in ERRORS_INTEGRATIONS'),
    Retired("ERRORS_FORGET_DEAD_PROCESSES", "errors.E113",
            "forgot dead processes' gauges in `PROMETHEUS_MULTIPROC_DIR`",
            'name "prometheus_multiprocess" in ERRORS_INTEGRATIONS'),
    Retired("ERRORS_REDIS_RETRY_AFTER", "errors.E121",
            "set `Retry-After` of the Cortex service's `redis_unavailable`",
            "set the service's `REDIS_RETRY_AFTER`"),
    Retired("ERRORS_CORRELATE_CELERY", "errors.E123",
            "connected `errors.celery` when Celery was loaded",
            'name "celery" in ERRORS_INTEGRATIONS'),
)  # fmt: skip

errors_settings = ErrorsSettings()


def _reread(setting: str, **kwargs: Any) -> None:
    """`setting_changed` receiver: `override_settings` of an `ERRORS_*` setting is seen at once."""
    if setting.startswith("ERRORS_"):
        errors_settings.__dict__.clear()


setting_changed.connect(_reread)
