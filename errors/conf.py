"""Settings of the `errors` app, read from Django settings at the moment they are needed.

`SETTINGS` declares every `ERRORS_*` setting once: its default, the check its value must pass and
what it means. `errors.checks` validates each against it (`errors.E1xx`); the README's settings
table lists the same names, and a test keeps the two in step. Every property of
`ErrorsSettings` reads `django.conf.settings` on access, so `override_settings` works in tests.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings

_LEVEL_NAMES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be True or False"


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


def _is_level(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return None
    if isinstance(value, str) and value.upper() in _LEVEL_NAMES:
        return None
    return f"must be a logging level: one of {', '.join(_LEVEL_NAMES)} or an int"


def _positive_int(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return None
    return "must be an int of at least 1"


def _optional_positive_int(value: Any) -> str | None:
    return None if value is None else _positive_int(value)


def _positive_number(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return None
    return "must be a number greater than 0"


def _is_str(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _path_prefixes(value: Any) -> str | None:
    if isinstance(value, list | tuple) and all(
        isinstance(p, str) and p.startswith("/") for p in value
    ):
        return None
    return "must be a list or tuple of URL path prefixes, each starting with '/'"


def _networks(value: Any) -> str | None:
    if isinstance(value, list | tuple) and all(isinstance(n, str) for n in value):
        try:
            for network in value:
                ipaddress.ip_network(network, strict=False)
        except ValueError:
            pass
        else:
            return None
    return 'must be a list or tuple of IP networks or addresses, such as "10.0.0.0/8"'


# RFC 6750's b64token: what an `Authorization: Bearer` header can carry.
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")


def _bearer_token(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and _BEARER_TOKEN.fullmatch(value)):
        return None
    return "must be None or a token of letters, digits and -._~+/ (RFC 6750)"


@dataclass(frozen=True, slots=True)
class Setting:
    """One `ERRORS_*` setting: its default, what a valid value is, and what it does.

    A `secret` setting's value is never shown (the system check names its type only).
    """

    name: str
    default: Any
    validate: Callable[[Any], str | None]
    meaning: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "ERRORS_INCLUDE_EXCEPTION_DETAILS",
        False,
        _is_bool,
        "add `debug_info` to 5xx bodies, only while `DEBUG` is on too",
    ),
    Setting(
        "ERRORS_CORRELATION_ID_HEADER",
        "X-Correlation-ID",
        _is_header,
        "header read from requests and set on every response",
    ),
    Setting(
        "ERRORS_REQUEST_LOG_LEVEL",
        "DEBUG",
        _is_level,
        "level of the one line logged per completed request",
    ),
    Setting(
        "ERRORS_DB_RETRY_AFTER",
        5,
        _positive_int,
        "seconds in `Retry-After` when the database is unreachable",
    ),
    Setting(
        "ERRORS_PROBLEM_DETAILS",
        False,
        _is_bool,
        "answer every error as `application/problem+json`",
    ),
    Setting(
        "ERRORS_PROBLEM_TYPE_BASE",
        "/api/errors/",
        _is_str,
        "prefix of problem details' `type` URI (the code is appended); "
        "`errors.urls` serves those pages",
    ),
    Setting(
        "ERRORS_JSON_PATH_PREFIXES",
        (),
        _path_prefixes,
        "URL path prefixes whose errors are always JSON, whatever the client's `Accept`",
    ),
    Setting(
        "ERRORS_ENABLE_MONITORING",
        True,
        _is_bool,
        "Prometheus metrics and error-rate alerting (`errors.urls` serves `/metrics`)",
    ),
    Setting(
        "ERRORS_ALERT_THRESHOLD",
        10,
        _positive_int,
        'server errors in a 60 s window that log "error threshold exceeded"',
    ),
    Setting(
        "ERRORS_PROPAGATE_CORRELATION_ID",
        True,
        _is_bool,
        "send `X-Correlation-ID` on outgoing httpx and requests calls and webhooks",
    ),
    Setting(
        "ERRORS_INSTRUMENT_HTTP_CLIENTS",
        True,
        _is_bool,
        "patch httpx's and requests' send methods at start-up (they add the header)",
    ),
    Setting(
        "ERRORS_CORRELATE_COMMANDS",
        True,
        _is_bool,
        "wrap `BaseCommand.execute` at start-up so each management command gets an id",
    ),
    Setting(
        "ERRORS_FORGET_DEAD_PROCESSES",
        True,
        _is_bool,
        "at start-up, drop live gauges of dead processes from `PROMETHEUS_MULTIPROC_DIR`",
    ),
    Setting(
        "ERRORS_JSON_MAX_DEPTH",
        64,
        _positive_int,
        "arrays and objects `errors.parsers.JSONParser` lets a request body nest; "
        "deeper is 400 `parse_error`",
    ),
    Setting(
        "ERRORS_METRICS_ALLOWED_NETWORKS",
        (),
        _networks,
        'networks (`"10.0.0.0/8"`, `"127.0.0.1"`) whose clients (`REMOTE_ADDR`) may read '
        "`/metrics`, others get 403; empty: every client",
    ),
    Setting(
        "ERRORS_METRICS_BEARER_TOKEN",
        None,
        _bearer_token,
        "token `/metrics` asks for as `Authorization: Bearer <token>` (401 without it); "
        "`None`: no token",
        secret=True,
    ),
    Setting(
        "ERRORS_MAX_CONCURRENT_REQUESTS",
        None,
        _optional_positive_int,
        "requests `errors.limits.ConcurrencyLimitMiddleware` lets run at once (size it to "
        "the database pool); more wait their turn; `None`: no limit",
    ),
    Setting(
        "ERRORS_QUEUE_TIMEOUT",
        5.0,
        _positive_number,
        "seconds a request may wait for its turn before it is answered 503 `service_busy`",
    ),
    Setting(
        "ERRORS_QUEUE_EXEMPT_PATHS",
        ("/healthz", "/metrics"),
        _path_prefixes,
        "URL path prefixes that never wait in the queue (probes and metrics)",
    ),
    Setting(
        "ERRORS_BUSY_RETRY_AFTER",
        1,
        _positive_int,
        "seconds in `Retry-After` of a 503 `service_busy`",
    ),
    Setting(
        "ERRORS_REDIS_RETRY_AFTER",
        5,
        _positive_int,
        "seconds in `Retry-After` when Redis is needed and unreachable",
    ),
    Setting(
        "ERRORS_TRACE_RESPONSE_HEADER",
        False,
        _is_bool,
        "send `traceresponse` (the request's trace id and span id) on responses to requests "
        "that belong to a trace",
    ),
    Setting(
        "ERRORS_CORRELATE_CELERY",
        True,
        _is_bool,
        "with Celery loaded at start-up, connect `errors.celery`: tasks carry the correlation "
        "id and `traceparent`, failures are logged once",
    ),
)

_DEFAULTS = {s.name: s.default for s in SETTINGS}

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _parse_networks(networks: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def _get(name: str) -> Any:
    return getattr(settings, name, _DEFAULTS[name])


class ErrorsSettings:
    """Typed access to the `ERRORS_*` settings, with their defaults."""

    @property
    def include_exception_details(self) -> bool:
        """Add `debug_info` to error bodies; only honoured while DEBUG is on as well."""
        return bool(_get("ERRORS_INCLUDE_EXCEPTION_DETAILS"))

    @property
    def debug_info_enabled(self) -> bool:
        """True only when both DEBUG and ERRORS_INCLUDE_EXCEPTION_DETAILS are on."""
        return bool(settings.DEBUG) and self.include_exception_details

    @property
    def correlation_id_header(self) -> str:
        """The HTTP header that carries the correlation id, in and out."""
        return str(_get("ERRORS_CORRELATION_ID_HEADER"))

    @property
    def request_log_level(self) -> int:
        """The level of the one line logged for each completed request (DEBUG by default)."""
        value = _get("ERRORS_REQUEST_LOG_LEVEL")
        if isinstance(value, int):
            return value
        return logging.getLevelNamesMapping().get(str(value).upper(), logging.DEBUG)

    @property
    def db_retry_after(self) -> int:
        """Seconds a client is told to wait (Retry-After) when the database is unreachable."""
        return int(_get("ERRORS_DB_RETRY_AFTER"))

    @property
    def max_concurrent_requests(self) -> int | None:
        """Requests let into the application at once by the concurrency limit; None: no limit."""
        value = _get("ERRORS_MAX_CONCURRENT_REQUESTS")
        return None if value is None else int(value)

    @property
    def queue_timeout(self) -> float:
        """Seconds a request waits for its turn before it is answered 503 `service_busy`."""
        return float(_get("ERRORS_QUEUE_TIMEOUT"))

    @property
    def queue_exempt_paths(self) -> tuple[str, ...]:
        """URL path prefixes that bypass the concurrency limit."""
        return tuple(_get("ERRORS_QUEUE_EXEMPT_PATHS"))

    @property
    def busy_retry_after(self) -> int:
        """Seconds in Retry-After of a 503 `service_busy`."""
        return int(_get("ERRORS_BUSY_RETRY_AFTER"))

    @property
    def redis_retry_after(self) -> int:
        """Seconds in Retry-After when Redis is needed and unreachable."""
        return int(_get("ERRORS_REDIS_RETRY_AFTER"))

    @property
    def problem_type_base(self) -> str:
        """Prefix of the `type` URI of problem details; the error code is appended."""
        return str(_get("ERRORS_PROBLEM_TYPE_BASE"))

    @property
    def problem_details_default(self) -> bool:
        """Render errors as RFC 9457 application/problem+json even when the client did not ask."""
        return bool(_get("ERRORS_PROBLEM_DETAILS"))

    @property
    def json_path_prefixes(self) -> tuple[str, ...]:
        """URL path prefixes whose error responses are JSON even for browsers."""
        return tuple(_get("ERRORS_JSON_PATH_PREFIXES"))

    @property
    def monitoring_enabled(self) -> bool:
        """Count requests and errors in Prometheus metrics and watch the error rate."""
        return bool(_get("ERRORS_ENABLE_MONITORING"))

    @property
    def alert_threshold(self) -> int:
        """Handled errors within 60 s that raise an "error threshold exceeded" alert."""
        return int(_get("ERRORS_ALERT_THRESHOLD"))

    @property
    def propagate_correlation_id(self) -> bool:
        """Send the correlation id on outgoing HTTP calls (checked on each call)."""
        return bool(_get("ERRORS_PROPAGATE_CORRELATION_ID"))

    @property
    def instrument_http_clients(self) -> bool:
        """Patch httpx and requests at start-up so that outgoing calls can carry the id."""
        return bool(_get("ERRORS_INSTRUMENT_HTTP_CLIENTS"))

    @property
    def correlate_commands(self) -> bool:
        """Run each management command under a correlation id of its own."""
        return bool(_get("ERRORS_CORRELATE_COMMANDS"))

    @property
    def forget_dead_processes(self) -> bool:
        """Drop the live gauges of dead processes from the multiprocess directory at start-up."""
        return bool(_get("ERRORS_FORGET_DEAD_PROCESSES"))

    @property
    def json_max_depth(self) -> int:
        """How deeply `errors.parsers.JSONParser` lets arrays and objects of a body nest."""
        return int(_get("ERRORS_JSON_MAX_DEPTH"))

    @property
    def metrics_allowed_networks(self) -> tuple[IPNetwork, ...]:
        """The networks whose clients may read `/metrics`; empty for every client."""
        return _parse_networks(tuple(_get("ERRORS_METRICS_ALLOWED_NETWORKS")))

    @property
    def metrics_bearer_token(self) -> str | None:
        """The bearer token `/metrics` asks for, or None."""
        value = _get("ERRORS_METRICS_BEARER_TOKEN")
        return None if value is None else str(value)

    @property
    def trace_response_header(self) -> bool:
        """Send `traceresponse` on responses to requests that belong to a trace."""
        return bool(_get("ERRORS_TRACE_RESPONSE_HEADER"))

    @property
    def correlate_celery(self) -> bool:
        """Connect `errors.celery` at start-up when Celery is loaded."""
        return bool(_get("ERRORS_CORRELATE_CELERY"))


errors_settings = ErrorsSettings()
