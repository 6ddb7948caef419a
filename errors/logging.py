"""Structured logging for the `errors` app: JSON lines, correlation ids, redaction.

Nothing here imports Django, so the module can be used (and its config built) before settings
are configured, e.g. from `settings.py` itself::

    from errors.logging import build_logging_config

    LOGGING = build_logging_config(level=env("LOG_LEVEL"), fmt=env("LOG_FORMAT"))
"""

from __future__ import annotations

import copy
import logging
import os
import time
import traceback
from collections.abc import Iterable, Iterator
from typing import Any, Final, TextIO

import orjson

from errors.context import get_correlation_id

__all__ = [
    "ConsoleFormatter",
    "CorrelationIdFilter",
    "DuplicateRequestLogFilter",
    "JsonFormatter",
    "RedactingFilter",
    "build_logging_config",
]

# Derived from a real record rather than hard-coded, so attributes that a newer Python adds
# (taskName arrived in 3.12) are never mistaken for extras. `message` and `asctime` are set by
# formatters, so a record that went through another handler first carries them as well.
_STANDARD_ATTRS: Final[frozenset[str]] = frozenset(
    logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__
) | {"message", "asctime", "taskName"}

# The formatter renders the correlation id as a field of its own, not as an extra.
_FORMATTER_SKIP: Final[frozenset[str]] = _STANDARD_ATTRS | {"correlation_id"}

# Names of the fields the formatter writes itself; an extra with one of these names must not
# overwrite them, so it is written under `extra_<name>` instead. `request` is here because it
# needs special rendering, see `_describe_request`.
_OUTPUT_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "timestamp",
        "level",
        "message",
        "logger",
        "module",
        "function",
        "line",
        "process_id",
        "thread_id",
        "correlation_id",
        "exception",
        "stack_info",
    }
)
_SPECIAL_EXTRAS: Final[frozenset[str]] = _OUTPUT_FIELDS | {"request"}

# ".000Z" .. ".999Z": indexing a tuple beats formatting the milliseconds for every record.
_MILLIS_SUFFIX: Final[tuple[str, ...]] = tuple(f".{ms:03d}Z" for ms in range(1000))

_LEVELS: Final[tuple[str, ...]] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_FORMATS: Final[tuple[str, ...]] = ("json", "console")

DEFAULT_SENSITIVE_KEYS: Final[tuple[str, ...]] = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "session",
    "csrf",
)
"""Substrings that make a key sensitive (matched against the lowercased key)."""

REDACTED: Final[str] = "[REDACTED]"
"""What `RedactingFilter` puts in place of a sensitive value."""

CONSOLE_FORMAT: Final[str] = (
    "%(asctime)s %(levelname)-8s [%(correlation_id)s] %(name)s: %(message)s"
)
"""The line format of `ConsoleFormatter` as configured by `build_logging_config`."""


# --------------------------------------------------------------------------------------------
# Helpers that must never raise: they run inside a logging call, where an exception would
# either be swallowed by Handler.handleError (losing the line) or print a traceback to stderr.
# --------------------------------------------------------------------------------------------


def _type_name(obj: object) -> str:
    return type(obj).__qualname__


def _safe_str(obj: object) -> str:
    """str(), else repr(), else a placeholder; the result is always UTF-8 encodable."""
    try:
        text = str(obj)
    except Exception:
        try:
            text = repr(obj)
        except Exception:
            return f"<unprintable {_type_name(obj)}>"
    # Lone surrogates (e.g. from os.fsdecode of a bad filename) are valid in a Python str but
    # cannot be encoded, and orjson rejects them.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    except Exception:
        return f"<unprintable {_type_name(obj)}>"
    return text


def _json_default(obj: Any) -> Any:
    """orjson `default=` hook for everything orjson cannot serialize natively."""
    if isinstance(obj, (set, frozenset)):
        # orjson calls this hook again for any member it cannot serialize itself.
        return list(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        try:
            return bytes(obj).decode("utf-8", "backslashreplace")
        except Exception:
            return _safe_str(obj)
    return _safe_str(obj)


def _sanitize(value: Any, depth: int = 0) -> Any:
    """Return a version of `value` that orjson can serialize; only used after a failure."""
    if depth > 32:
        return _safe_str(value)
    if isinstance(value, str):
        return _safe_str(value)
    if isinstance(value, dict):
        return {_safe_str(k): _sanitize(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(v, depth + 1) for v in value]
    try:
        orjson.dumps(value, default=_json_default)
    except Exception:
        return _safe_str(value)
    return value


def _broken_message(record: logging.LogRecord, exc: BaseException) -> str:
    """The message of a record whose %-formatting failed: the raw msg, and why."""
    return (
        f"{_safe_str(record.msg)} [log message formatting failed: {_type_name(exc)}: "
        f"{_safe_str(exc)}; args={_safe_str(record.args)}]"
    )


def _describe_request(request: object) -> Any:
    """Render a `request` extra as "<METHOD> <path>" instead of dumping the whole object."""
    if request is None or isinstance(request, str):
        return request
    try:
        method = getattr(request, "method", None)
        path = getattr(request, "path", None)
    except Exception:
        return f"<{_type_name(request)}>"
    if method is None and path is None:
        # e.g. django.server passes the socket as `request`; its repr would leak addresses.
        return f"<{_type_name(request)}>"
    # `path`, not get_full_path(): the query string may carry tokens.
    return f"{_safe_str(method)} {_safe_str(path)}"


def _exception_type_name(exc_type: type[BaseException]) -> str:
    module = getattr(exc_type, "__module__", None)
    if module in (None, "builtins", "__main__"):
        return exc_type.__qualname__
    return f"{module}.{exc_type.__qualname__}"


# --------------------------------------------------------------------------------------------
# Tracebacks
# --------------------------------------------------------------------------------------------

# Rendering one frame of a traceback costs a compile() of its source line on 3.11+ (to place
# the ^^^ markers), which is most of the cost of formatting an exception. The text depends only
# on the frame's location and source line, and an application raises from a limited set of
# places, so each rendering is kept. Bounded: generated code could have unbounded locations.
_FRAME_CACHE: dict[tuple[Any, ...], str] = {}
_FRAME_CACHE_LIMIT: Final[int] = 4096


class _CachingStackSummary(traceback.StackSummary):
    """A StackSummary whose frame rendering is memoised in `_FRAME_CACHE`."""

    def format_frame_summary(self, frame_summary: traceback.FrameSummary, **kwargs: Any) -> str:
        """Return the cached text of the frame, rendering it on first sight."""
        if frame_summary.locals is not None:
            # Locals are values, not locations: nothing to reuse.
            return super().format_frame_summary(frame_summary, **kwargs)
        key = (
            frame_summary.filename,
            frame_summary.lineno,
            getattr(frame_summary, "end_lineno", None),
            getattr(frame_summary, "colno", None),
            getattr(frame_summary, "end_colno", None),
            frame_summary.name,
            frame_summary.line,
            tuple(sorted(kwargs.items())),
        )
        text = _FRAME_CACHE.get(key)
        if text is None:
            text = super().format_frame_summary(frame_summary, **kwargs)
            if len(_FRAME_CACHE) < _FRAME_CACHE_LIMIT:
                _FRAME_CACHE[key] = text
        return text


def _tracebacks(te: traceback.TracebackException) -> Iterator[traceback.TracebackException]:
    """`te` and every exception chained to it (cause, context, exception group members)."""
    pending = [te]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
        pending.extend(getattr(current, "exceptions", None) or ())


def format_exception_text(exc_info: Any) -> str:
    """Return exactly what logging.Formatter.formatException returns for `exc_info`, faster.

    Same TracebackException, same options as traceback.print_exception; only the rendering
    of frames already seen is reused (see `_CachingStackSummary`).
    """
    exc_type, exc_value, exc_tb = exc_info[0], exc_info[1], exc_info[2]
    if exc_value is None:
        exc_value = exc_type()
    te = traceback.TracebackException(type(exc_value), exc_value, exc_tb, compact=True)
    for linked in _tracebacks(te):
        if type(linked.stack) is traceback.StackSummary:
            linked.stack.__class__ = _CachingStackSummary
    text = "".join(te.format())
    return text[:-1] if text.endswith("\n") else text


# --------------------------------------------------------------------------------------------
# Formatters
# --------------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """Format each record as one JSON object on one line, serialized with orjson.

    Fields, in this order: `timestamp` (UTC, ISO-8601 with milliseconds and `Z`), `level`,
    `message`, `logger`, `module`, `function`, `line`, `process_id`, `thread_id`,
    `correlation_id` (null when there is none), then `exception` (an object with `type`,
    `message` and `traceback`) when the record carries exception info, `stack_info` when the
    record carries a stack, and finally every extra attribute at top level.

    An extra whose name collides with one of those fields is written as `extra_<name>`. A
    `request` extra (Django's `django.request` logger passes the HttpRequest) is rendered as
    "<METHOD> <path>". Values orjson cannot serialize are written as their str() (sets as
    lists, bytes decoded as UTF-8).

    `format` never raises: broken %-arguments give a message saying so, unserializable values
    are stringified, and if everything else fails a minimal line is still produced.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Accept the arguments of logging.Formatter; `fmt` and `style` are not used."""
        super().__init__(*args, **kwargs)
        # (whole second, "YYYY-MM-DDTHH:MM:SS"): records arrive many per second, so
        # strftime/gmtime run once a second instead of once a record. Replacing the tuple is
        # atomic, so threads sharing the formatter can only ever see a consistent pair.
        self._second_cache: tuple[int, str] = (-1, "")

    def format_timestamp(self, created: float) -> str:
        """Return `created` (seconds since the epoch) as e.g. `2026-11-28T15:20:32.123Z`.

        Milliseconds are truncated, not rounded, like LogRecord.msecs, so the text never
        shows a time later than the record's.
        """
        second = int(created)
        millis = int((created - second) * 1000)
        if not 0 <= millis < 1000:
            # Only for timestamps before 1970 (int() truncates towards zero) and float edge
            # cases; floor division gets those right at a cost the common path avoids.
            whole, frac = divmod(created, 1)
            second, millis = int(whole), min(int(frac * 1000), 999)
        cached = self._second_cache
        if cached[0] != second:
            cached = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
            self._second_cache = cached
        return cached[1] + _MILLIS_SUFFIX[millis]

    def format(self, record: logging.LogRecord) -> str:
        """Return the JSON line for `record` (without the trailing newline)."""
        try:
            try:
                message = record.getMessage()
            except Exception as exc:
                message = _broken_message(record, exc)
            # Like logging.Formatter, so `%(message)s` works for handlers formatting later.
            record.message = message

            attrs = record.__dict__
            data: dict[str, Any] = {
                "timestamp": self.format_timestamp(record.created),
                "level": record.levelname,
                "message": message,
                "logger": record.name,
                "module": record.module,
                "function": record.funcName,
                "line": record.lineno,
                "process_id": record.process,
                "thread_id": record.thread,
                # The filter copied the id at emit time; without the filter (formatter used
                # on its own) the context is still current, as formatting runs in emit().
                "correlation_id": attrs.get("correlation_id") or get_correlation_id(),
            }
            if record.exc_info or record.exc_text:
                data["exception"] = self._exception(record)
            if record.stack_info:
                data["stack_info"] = self.formatStack(record.stack_info)

            skip = _FORMATTER_SKIP
            special = _SPECIAL_EXTRAS
            for key, value in attrs.items():
                if key not in skip:
                    if key in special:
                        if key == "request":
                            value = _describe_request(value)
                        else:
                            key = "extra_" + key
                    data[key] = value

            try:
                return orjson.dumps(data, default=_json_default).decode()
            except Exception:
                return self._dumps_sanitized(data)
        except Exception as exc:
            return self._emergency_line(record, exc)

    def _exception(self, record: logging.LogRecord) -> dict[str, Any]:
        exc_info = record.exc_info
        try:
            if exc_info and exc_info[0] is not None:
                # Cached on the record like logging.Formatter does, so a second handler (or
                # a second formatter) does not walk the traceback again.
                if not record.exc_text:
                    record.exc_text = self.formatException(exc_info)
                exc_type, exc_value = exc_info[0], exc_info[1]
                return {
                    "type": _exception_type_name(exc_type),
                    "message": _safe_str(exc_value),
                    "traceback": record.exc_text,
                }
        except Exception as exc:
            return {
                "type": None,
                "message": f"<exception info could not be formatted: {_safe_str(exc)}>",
                "traceback": None,
            }
        # exc_info=True outside an except block gives (None, None, None); a record rebuilt
        # from a pickle (SocketHandler) has only exc_text.
        return {"type": None, "message": None, "traceback": record.exc_text or None}

    def formatException(self, ei: Any) -> str:  # noqa: N802 (stdlib name)
        """Format exception info exactly like logging.Formatter does, reusing frame texts."""
        try:
            return format_exception_text(ei)
        except Exception:
            return super().formatException(ei)

    @staticmethod
    def _dumps_sanitized(data: dict[str, Any]) -> str:
        # Reached only when orjson refused something even with the default hook: ints
        # beyond 64 bits, lone surrogates, non-str dict keys, cycles, extreme nesting.
        return orjson.dumps(_sanitize(data), default=_json_default).decode()

    def _emergency_line(self, record: logging.LogRecord, error: BaseException) -> str:
        # Every value is forced to a str: whatever made the normal path fail must not be
        # able to make this one fail too.
        fields = {
            "timestamp": _safe_str(getattr(record, "created", None)),
            "level": _safe_str(getattr(record, "levelname", None)),
            "message": _safe_str(getattr(record, "msg", None)),
            "logger": _safe_str(getattr(record, "name", None)),
            "correlation_id": _safe_str(cid) if (cid := get_correlation_id()) else None,
            "formatter_error": f"{_type_name(error)}: {_safe_str(error)}",
        }
        try:
            return orjson.dumps(fields).decode()
        except Exception:
            return '{"message":"<log record could not be formatted>"}'


class ConsoleFormatter(logging.Formatter):
    """Human-readable formatter whose format may reference `%(correlation_id)s` safely.

    A record without a correlation id (None or no attribute at all) shows `-`. The record
    itself is left alone, so a JSON handler formatting it afterwards still writes null.
    """

    def __init__(
        self,
        fmt: str | None = CONSOLE_FORMAT,
        datefmt: str | None = None,
        style: Any = "%",
        validate: bool = True,
        **kwargs: Any,
    ) -> None:
        """Accept the arguments of logging.Formatter, with `CONSOLE_FORMAT` as the default."""
        super().__init__(fmt, datefmt, style, validate, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        """Format like logging.Formatter, but broken %-arguments do not raise."""
        try:
            return super().format(record)
        except Exception as exc:
            # Most likely the message's %-arguments; the copy carries the explanation so the
            # line still appears and the caller's record keeps its msg and args.
            shadow = copy.copy(record)
            shadow.msg, shadow.args = _broken_message(record, exc), ()
            try:
                return super().format(shadow)
            except Exception:
                return _safe_str(shadow.msg)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (stdlib name)
        """Substitute the record into the format, with `-` for a missing correlation id."""
        if record.__dict__.get("correlation_id") is None:
            shadow = copy.copy(record)
            shadow.correlation_id = get_correlation_id() or "-"
            return super().formatMessage(shadow)
        return super().formatMessage(record)


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


class CorrelationIdFilter(logging.Filter):
    """Copy the current correlation id onto each record as `record.correlation_id`.

    The id is read from the context variable in `errors.context` when the record is handled,
    i.e. in the thread or task that logged it, so concurrent requests never swap ids (a
    process-global filter holding "the" current id does). A record that already carries an
    id keeps it. Records without any id get None. Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Set `record.correlation_id` if missing or None; always return True."""
        if record.__dict__.get("correlation_id") is None:
            record.correlation_id = get_correlation_id()
        return True


class RedactingFilter(logging.Filter):
    """Mask the values of sensitive keys in a record's extras, at any depth.

    A key is sensitive when its lowercased name contains one of `keys` (by default
    `DEFAULT_SENSITIVE_KEYS`). Both an extra whose own name is sensitive
    (`extra={"token": ...}`) and sensitive keys inside dicts nested in dicts, lists and
    tuples are replaced by `"[REDACTED]"`.

    Containers are copied on write: the caller's objects are never modified, and containers
    without anything to mask are not copied at all. Structures nested deeper than
    `max_depth` (which includes self-referencing ones) are masked as a whole rather than
    risk letting a secret through. Never raises and never drops a record.
    """

    # Sensitive-ness of a key is cached per name; bounded because nested dict keys may be
    # data (user names, ids) rather than a fixed vocabulary.
    _CACHE_LIMIT: Final[int] = 2048

    def __init__(self, keys: Iterable[str] | None = None, max_depth: int = 32) -> None:
        """Use `keys` (substrings, case-insensitive) instead of the default sensitive keys."""
        super().__init__()
        source = DEFAULT_SENSITIVE_KEYS if keys is None else keys
        self.keys: tuple[str, ...] = tuple(k.lower() for k in source if k)
        self.max_depth = max_depth
        self._verdicts: dict[str, bool] = {}

    def is_sensitive(self, key: object) -> bool:
        """Tell whether a key's value must be masked."""
        if not isinstance(key, str):
            return False
        verdict = self._verdicts.get(key)
        if verdict is None:
            lowered = key.lower()
            verdict = any(fragment in lowered for fragment in self.keys)
            if len(self._verdicts) < self._CACHE_LIMIT:
                self._verdicts[key] = verdict
        return verdict

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask sensitive values in the extras of `record`; always return True."""
        try:
            attrs = record.__dict__
            changes: dict[str, Any] | None = None
            standard = _STANDARD_ATTRS
            for key, value in attrs.items():
                if key in standard:
                    continue
                if self.is_sensitive(key):
                    new = REDACTED
                elif isinstance(value, (dict, list, tuple)):
                    new = self._redact(value, 0)
                else:
                    continue
                if new is not value:
                    if changes is None:
                        changes = {}
                    changes[key] = new
            if changes:
                # Applied after the walk: the record's dict must not change while iterated.
                attrs.update(changes)
        except Exception:
            # Something in the extras defeated the walk (a mapping whose items() raises, a
            # key whose lower() misbehaves...). Fail closed rather than log what may be a
            # secret: mask every extra that could hold one.
            self._mask_all_extras(record)
        return True

    def _redact(self, value: Any, depth: int) -> Any:
        """Return `value` with sensitive keys masked; the same object when nothing changed."""
        if depth >= self.max_depth:
            return REDACTED
        if isinstance(value, dict):
            changed: dict[Any, Any] | None = None
            for key, item in value.items():
                if self.is_sensitive(key):
                    new = REDACTED
                elif isinstance(item, (dict, list, tuple)):
                    new = self._redact(item, depth + 1)
                else:
                    continue
                if new is not item:
                    if changed is None:
                        changed = {}
                    changed[key] = new
            if changed is None:
                return value
            return {**value, **changed}
        if isinstance(value, (list, tuple)):
            items: list[Any] | None = None
            for index, item in enumerate(value):
                if isinstance(item, (dict, list, tuple)):
                    new = self._redact(item, depth + 1)
                    if new is not item:
                        if items is None:
                            items = list(value)
                        items[index] = new
            if items is None:
                return value
            return items if isinstance(value, list) else tuple(items)
        return value

    def _mask_all_extras(self, record: logging.LogRecord) -> None:
        try:
            attrs = record.__dict__
            for key in [k for k in attrs if k not in _STANDARD_ATTRS]:
                value = attrs[key]
                if isinstance(value, (dict, list, tuple, set, frozenset)):
                    attrs[key] = REDACTED
                else:
                    try:
                        if self.is_sensitive(key):
                            attrs[key] = REDACTED
                    except Exception:
                        attrs[key] = REDACTED
        except Exception:
            pass


class DuplicateRequestLogFilter(logging.Filter):
    """Drop Django's own error-response records for requests the errors middleware handled.

    Django logs every 4xx/5xx response on `django.request` (and CSRF failures on
    `django.security.csrf`), passing the request as `record.request`. The errors middleware
    already logs each error response exactly once, with its correlation id, and marks the
    request by setting `request.correlation_id`; Django's line for such a request would be a
    duplicate. Records for requests without the mark, and all other records, pass.
    """

    LOGGERS: Final[frozenset[str]] = frozenset({"django.request", "django.security.csrf"})

    def filter(self, record: logging.LogRecord) -> bool:
        """Return False for a duplicate of a line the middleware logs; True otherwise."""
        if record.name not in self.LOGGERS:
            return True
        request = record.__dict__.get("request")
        if request is None:
            return True
        try:
            return not hasattr(request, "correlation_id")
        except Exception:
            return True


# --------------------------------------------------------------------------------------------
# dictConfig
# --------------------------------------------------------------------------------------------

# Chatty at INFO/DEBUG and rarely what an operator is looking for.
QUIET_LOGGERS: Final[tuple[str, ...]] = (
    "django.db.backends",
    "django.utils.autoreload",
    "daphne",
    "asyncio",
    "urllib3",
    "httpx",
    "httpcore",
    "channels_redis",
    "aioredis",
    "redis",
)


def _check_level(value: object, argument: str) -> str:
    name = value.upper() if isinstance(value, str) else None
    if name not in _LEVELS:
        raise ValueError(f"{argument} must be one of {', '.join(_LEVELS)}, got {value!r}")
    return name


def build_logging_config(
    *,
    level: str = "INFO",
    fmt: str = "json",
    log_file: str | os.PathLike[str] | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    backup_count: int = 5,
    stream: TextIO | None = None,
    request_log_level: str | int | None = None,
) -> dict[str, Any]:
    """Return a `logging.config.dictConfig` dict (usable as Django's `LOGGING`).

    - Root logger at `level` (DEBUG, INFO, WARNING, ERROR or CRITICAL; case-insensitive),
      writing to a `console` handler on `stream` (default: sys.stderr) formatted as `fmt`:
      "json" (one JSON object per line, `JsonFormatter`) or "console" (`ConsoleFormatter`).
    - With `log_file` (a path; None or "" for none), also a size-rotated file handler
      (`max_bytes`, `backup_count`), always JSON whatever `fmt` says: files are for machines.
    - Every handler runs `dedupe` (`DuplicateRequestLogFilter`), `correlation_id`
      (`CorrelationIdFilter`) and `redact` (`RedactingFilter`), in that order.
    - `django` and `errors` loggers have no handlers of their own and propagate to root at
      `level`; the noisy loggers in `QUIET_LOGGERS` are held at WARNING (or `level`, if that
      is higher).

    `request_log_level` is the level of the per-request line the errors middleware logs
    (ERRORS_REQUEST_LOG_LEVEL). It only affects whether that line appears: the `errors`
    logger stays at `level`, so when `request_log_level` is below `level` the line is simply
    filtered out, exactly like any other record below the configured level.

    Raises ValueError, naming the value, for an unknown `level`, `fmt` or
    `request_log_level`.
    """
    level_name = _check_level(level, "level")
    if fmt not in _FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(_FORMATS)}, got {fmt!r}")
    if request_log_level is not None and not isinstance(request_log_level, int):
        _check_level(request_log_level, "request_log_level")

    module = __name__
    filter_names = ["dedupe", "correlation_id", "redact"]
    handlers: dict[str, dict[str, Any]] = {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": fmt,
            "filters": list(filter_names),
            # dictConfig resolves "ext://" strings and passes any other object through.
            "stream": stream if stream is not None else "ext://sys.stderr",
        }
    }
    if log_file:
        handlers["file"] = {
            "class": "logging.handlers.RotatingFileHandler",
            "formatter": "json",
            "filters": list(filter_names),
            "filename": os.fspath(log_file),
            "maxBytes": max_bytes,
            "backupCount": backup_count,
            "encoding": "utf-8",
        }

    # A logger's own level decides for records it creates, even when they propagate to a
    # root at a higher level; so "quiet" must never mean "louder than the root".
    quiet_level = level_name if _LEVELS.index(level_name) > _LEVELS.index("WARNING") else "WARNING"
    loggers: dict[str, dict[str, Any]] = {
        "django": {"level": level_name, "handlers": [], "propagate": True},
        "errors": {"level": level_name, "handlers": [], "propagate": True},
    }
    for name in QUIET_LOGGERS:
        loggers[name] = {"level": quiet_level, "handlers": [], "propagate": True}

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "correlation_id": {"()": f"{module}.CorrelationIdFilter"},
            "redact": {"()": f"{module}.RedactingFilter"},
            "dedupe": {"()": f"{module}.DuplicateRequestLogFilter"},
        },
        "formatters": {
            "json": {"()": f"{module}.JsonFormatter"},
            "console": {"()": f"{module}.ConsoleFormatter", "fmt": CONSOLE_FORMAT},
        },
        "handlers": handlers,
        "root": {"level": level_name, "handlers": list(handlers)},
        "loggers": loggers,
    }
