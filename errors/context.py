"""The correlation id of the work in progress, kept in a context variable (docs/tracing.md)."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# 1-128 of letters, digits and ._:-: UUIDs, trace ids, vendors' ids; nothing splits a header.
_VALID_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def new_correlation_id() -> str:
    """Return a fresh correlation id: a random UUID4 (from the OS's generator) in canonical form."""
    return str(uuid.uuid4())


def is_valid_correlation_id(value: str | None) -> bool:
    """Tell whether a client-supplied id may be adopted as it is."""
    return bool(value) and _VALID_ID.fullmatch(value) is not None  # type: ignore[arg-type]


def accept_correlation_id(value: str | None) -> str:
    """Return `value` if it is a valid id, otherwise a new one. The raw value is never kept."""
    return value if value and is_valid_correlation_id(value) else new_correlation_id()


def get_correlation_id() -> str | None:
    """Return the correlation id of the current request, task or command, if one is set."""
    return _correlation_id.get()


def set_correlation_id(value: str) -> Token[str | None]:
    """Make `value` the current correlation id; pass the token to `reset_correlation_id`."""
    return _correlation_id.set(value)


def reset_correlation_id(token: Token[str | None]) -> None:
    """Restore the correlation id that was current before the matching `set_correlation_id`."""
    _correlation_id.reset(token)
