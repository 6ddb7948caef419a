"""Filters: the correlation id, redaction of secrets, and Django's duplicate request lines."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any, Final

from errors.context import get_correlation_id
from errors.tracing import current_trace

from .safe import STANDARD_ATTRS

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


class CorrelationIdFilter(logging.Filter):
    """Copy the current correlation id and trace onto each record (an id it carries is kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Set `correlation_id` if missing or None, and `trace_id`/`span_id`; return True."""
        attrs = record.__dict__
        if attrs.get("correlation_id") is None:
            record.correlation_id = get_correlation_id()
        if "trace_id" not in attrs:
            trace = current_trace()
            record.trace_id = None if trace is None else trace.trace_id
            record.span_id = None if trace is None else trace.span_id
        return True


class RedactingFilter(logging.Filter):
    """Mask the values of sensitive keys in a record's extras, at any depth (docs/logging.md)."""

    def __init__(self, keys: Iterable[str] | None = None, max_depth: int = 32) -> None:
        """Use `keys` (substrings, case-insensitive) instead of the default sensitive keys."""
        super().__init__()
        source = DEFAULT_SENSITIVE_KEYS if keys is None else keys
        self.keys: tuple[str, ...] = tuple(k.lower() for k in source if k)
        self.max_depth = max_depth
        # One search for all the keys (none given: a pattern that matches nothing).
        self._keys = re.compile("|".join(map(re.escape, self.keys)) or "(?!)")

    def is_sensitive(self, key: object) -> bool:
        """Tell whether a key's value must be masked."""
        # str.lower, not key.lower: a str subclass cannot misbehave here.
        return isinstance(key, str) and self._keys.search(str.lower(key)) is not None

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask sensitive values in the extras of `record`; always return True."""
        attrs = record.__dict__
        extras = {key: value for key, value in attrs.items() if key not in STANDARD_ATTRS}
        try:
            redacted = self._redact(extras, 0)
        except Exception:
            # Something in the extras defeated the walk: fail closed, mask containers and secrets.
            redacted = {
                key: REDACTED
                for key, value in extras.items()
                if isinstance(value, (dict, list, tuple, set, frozenset)) or self.is_sensitive(key)
            }
        if redacted is not extras:
            attrs.update(redacted)
        return True

    def _redact(self, value: Any, depth: int) -> Any:
        """Return `value` with sensitive keys masked; the same object when nothing changed."""
        if depth > self.max_depth:  # the extras are depth 0, their values depth 1
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


class DuplicateRequestLogFilter(logging.Filter):
    """Drop Django's `django.request` records for requests whose errors `errors` logs itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Return False for a duplicate of a line `errors` logs; True otherwise."""
        if record.name != "django.request":
            return True
        request = record.__dict__.get("request")
        try:
            return not getattr(request, "_errors_reported", False)
        except Exception:
            return True
