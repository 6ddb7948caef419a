"""Turning any value into text or JSON without raising, for use inside logging calls."""

from __future__ import annotations

import logging
from typing import Any, Final

import orjson

# From a real record, so a newer Python's attributes (taskName) are no extras; `message` and
# `asctime` come from formatters.
STANDARD_ATTRS: Final[frozenset[str]] = frozenset(
    logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__
) | {"message", "asctime", "taskName"}


def safe_str(obj: object) -> str:
    """str(), else repr(), else a placeholder; the result is always UTF-8 encodable."""
    try:
        text = str(obj)
    except Exception:
        try:
            text = repr(obj)
        except Exception:
            return f"<unprintable {type(obj).__qualname__}>"
    # Lone surrogates (os.fsdecode of a bad filename) cannot be encoded; orjson rejects them.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    except Exception:
        return f"<unprintable {type(obj).__qualname__}>"
    return text


def json_default(obj: Any) -> Any:
    """orjson `default=` hook for everything orjson cannot serialize natively."""
    if isinstance(obj, (set, frozenset)):
        # orjson calls this hook again for any member it cannot serialize itself.
        return list(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        try:
            return bytes(obj).decode("utf-8", "backslashreplace")
        except Exception:
            return safe_str(obj)
    return safe_str(obj)


def sanitize(value: Any, depth: int = 0) -> Any:
    """Return a version of `value` that orjson can serialize; only used after a failure."""
    if depth > 32:
        return safe_str(value)
    if isinstance(value, str):
        return safe_str(value)
    if isinstance(value, dict):
        return {safe_str(k): sanitize(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitize(v, depth + 1) for v in value]
    try:
        orjson.dumps(value, default=json_default)
    except Exception:
        return safe_str(value)
    return value


def broken_message(record: logging.LogRecord, exc: BaseException) -> str:
    """The message of a record whose %-formatting failed: the raw msg, and why."""
    return (
        f"{safe_str(record.msg)} [log message formatting failed: {type(exc).__qualname__}: "
        f"{safe_str(exc)}; args={safe_str(record.args)}]"
    )


def describe_request(request: object) -> Any:
    """Render a `request` extra as "<METHOD> <path>" instead of dumping the whole object."""
    if request is None or isinstance(request, str):
        return request
    try:
        method = getattr(request, "method", None)
        path = getattr(request, "path", None)
    except Exception:
        return f"<{type(request).__qualname__}>"
    if method is None and path is None:
        # e.g. django.server passes the socket as `request`; its repr would leak addresses.
        return f"<{type(request).__qualname__}>"
    # `path`, not get_full_path(): the query string may carry tokens.
    return f"{safe_str(method)} {safe_str(path)}"


def exception_type_name(exc_type: type[BaseException]) -> str:
    module = getattr(exc_type, "__module__", None)
    if module in (None, "builtins", "__main__"):
        return exc_type.__qualname__
    return f"{module}.{exc_type.__qualname__}"
