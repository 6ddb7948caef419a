"""The correlation id of the work in progress, kept in a context variable.

A context variable (not a thread-local, not a process-global logging filter) is what keeps ids
apart when one process serves many requests at once: each asyncio task and each thread that
asgiref starts for a sync view runs in a copy of the context of the request that started it.
"""

from __future__ import annotations

import random
import re
from contextvars import ContextVar, Token

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# Letters, digits and ._:- only, 1-128 characters: enough for UUIDs, W3C trace ids and most
# vendors' request ids, and nothing that could split a header or a log line.
_VALID_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


# Version 4 and RFC 4122 variant bits of a UUID, as masks on a 128-bit integer.
_UUID4_CLEAR = ~(0xF000 << 64 | 0xC000 << 48)
_UUID4_SET = 0x4000 << 64 | 0x8000 << 48


def new_correlation_id() -> str:
    """Return a fresh correlation id: a random UUID4 in its canonical text form.

    Every request that brings no id of its own needs one, so this is on the hot path;
    `str(uuid.uuid4())` costs a system call for 16 random bytes and a UUID object. A correlation
    id is not a secret (clients may choose their own), so the process's Mersenne Twister, which
    Python reseeds in a forked child, is random enough and several times faster.
    """
    value = "%032x" % (random.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET)
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


def is_valid_correlation_id(value: str | None) -> bool:
    """Tell whether a client-supplied id may be adopted as it is."""
    return bool(value) and _VALID_ID.fullmatch(value) is not None  # type: ignore[arg-type]


def accept_correlation_id(value: str | None) -> str:
    """Return `value` if it is a valid id, otherwise a new one. The raw value is never kept."""
    if value and _VALID_ID.fullmatch(value):
        return value
    return new_correlation_id()


def get_correlation_id() -> str | None:
    """Return the correlation id of the current request, task or command, if one is set."""
    return _correlation_id.get()


def set_correlation_id(value: str) -> Token[str | None]:
    """Make `value` the current correlation id; pass the token to `reset_correlation_id`."""
    return _correlation_id.set(value)


def reset_correlation_id(token: Token[str | None]) -> None:
    """Restore the correlation id that was current before the matching `set_correlation_id`."""
    _correlation_id.reset(token)
