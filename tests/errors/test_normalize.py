"""`errors.normalize`: what an exception that nothing caught becomes, by kind.

Redis's connection and timeout errors are an outage of a service the request needed: 503
`redis_unavailable` with Retry-After (ERRORS_REDIS_RETRY_AFTER), never a 500. An error Redis
answered with, or a timeout that is not Redis's, stays a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from redis import exceptions as redis_exc

from errors.normalize import normalize

# exception, status, code, Retry-After
ROWS: list[tuple[Callable[[], BaseException], int, str, str | None]] = [
    (lambda: redis_exc.ConnectionError("Error 111 connecting to 127.0.0.1:6379."), 503,
     "redis_unavailable", "7"),
    (lambda: redis_exc.TimeoutError("Timeout reading from socket"), 503, "redis_unavailable",
     "7"),
    (lambda: redis_exc.BusyLoadingError("Redis is loading"), 503, "redis_unavailable", "7"),
    (lambda: redis_exc.ResponseError("WRONGTYPE"), 500, "internal_error", None),
    (lambda: TimeoutError("timed out"), 500, "internal_error", None),
    (lambda: ConnectionRefusedError(111, "Connection refused"), 500, "internal_error", None),
]


@pytest.mark.parametrize(
    ("make", "status", "code", "retry_after"),
    ROWS,
    ids=["redis-connection", "redis-timeout", "redis-loading", "redis-response", "timeout",
         "refused"],
)
def test_each_row(
    make: Callable[[], BaseException],
    status: int,
    code: str,
    retry_after: str | None,
    settings: Any,
) -> None:
    settings.ERRORS_REDIS_RETRY_AFTER = 7
    info = normalize(make())
    assert (info.status, info.code) == (status, code)
    assert info.headers.get("Retry-After") == retry_after
    # Nothing of the driver's text or the address reaches the client.
    assert "6379" not in info.message and "socket" not in info.message
    assert info.details is None
