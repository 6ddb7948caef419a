"""cortex/redis_guard.py: Redis on the request path, bounded in time and skipped while it is down.

Counters (`with_counters`) move into the process during an outage and back to Redis after it;
what cannot do without Redis (`call`, `bounded`) raises `RedisUnavailable` (503 with Retry-After)
instead of failing or hanging. The tests' Redis is reached through a `TcpProxy` they cut or hang;
each test starts with a breaker of its own, closed (tests/conftest.py `_fresh_cache`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import redis.asyncio
from asgiref.sync import async_to_sync
from django.core.cache import BaseCache
from django.test import Client

from cortex import redis_guard
from cortex.breaker import CircuitBreaker
from cortex.redis_guard import RedisUnavailable, bounded, call, with_counters
from tests.conftest import JsonLog
from tests.support.caches import redis_cache
from tests.support.fixtures import ProxyFactory
from tests.support.servers import free_port
from tests.support.tcp_proxy import TcpProxy
from tests.testapp.views import RAISERS

TIMEOUT = 0.3  # how long a client of these tests waits for Redis
COOLOFF = 0.2  # the breaker's cool-off in the tests that wait for it to pass


@pytest.fixture
def proxy(settings: Any, redis_url: str, tcp_proxy_factory: ProxyFactory) -> TcpProxy:
    """The tests' Redis (the cache's database) through a proxy; the cache goes through it."""
    target = urlsplit(settings.CACHES["default"]["LOCATION"])
    proxy = tcp_proxy_factory(target.hostname or "127.0.0.1", target.port or 6379)
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{proxy.port}{target.path}", TIMEOUT)
    return proxy


@pytest.fixture
def direct(proxy: TcpProxy, settings: Any) -> Iterator[redis.Redis]:
    """A client of the same Redis database, not through the proxy."""
    path = urlsplit(str(settings.CACHES["default"]["LOCATION"])).path
    client = redis.Redis.from_url(f"redis://{proxy.target[0]}:{proxy.target[1]}{path}")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def through(proxy: TcpProxy, settings: Any) -> Iterator[redis.Redis]:
    """A client of the same Redis database through the proxy, waiting TIMEOUT at most."""
    path = urlsplit(str(settings.CACHES["default"]["LOCATION"])).path
    client = redis.Redis.from_url(
        f"redis://127.0.0.1:{proxy.port}{path}",
        socket_connect_timeout=TIMEOUT,
        socket_timeout=TIMEOUT,
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def short_cooloff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_guard, "breaker", CircuitBreaker("Redis", cooloff=COOLOFF))


def breaker_lines(json_log: JsonLog) -> list[tuple[str, str]]:
    return [
        (record["level"], record["message"])
        for record in json_log.records()
        if record["logger"] == "cortex.breaker"
    ]


def count(cache: BaseCache) -> int:
    """One more hit on the test's counter; the count so far."""
    cache.add("guard-test-hits", 0)
    return int(cache.incr("guard-test-hits"))


# --- with_counters ----------------------------------------------------------------------------


@pytest.mark.redis
def test_counters_live_in_redis_while_it_answers(proxy: TcpProxy, direct: redis.Redis) -> None:
    assert [with_counters(count) for _ in range(3)] == [1, 2, 3]
    assert len(direct.keys("*guard-test-hits*")) == 1
    assert redis_guard.local_counters.get("guard-test-hits") is None


@pytest.mark.redis
def test_while_redis_is_down_counters_are_kept_in_the_process(
    proxy: TcpProxy, json_log: JsonLog
) -> None:
    assert with_counters(count) == 1
    proxy.cut()
    assert [with_counters(count) for _ in range(3)] == [1, 2, 3]  # counted afresh, here
    assert redis_guard.local_counters.get("guard-test-hits") == 3
    (line,) = breaker_lines(json_log)  # the outage is logged once, not per call
    assert line[0] == "WARNING"
    assert line[1].startswith("Redis cannot be reached (ConnectionError)")


@pytest.mark.redis
def test_when_redis_answers_again_the_counters_go_back_to_it(
    proxy: TcpProxy, direct: redis.Redis, short_cooloff: None, json_log: JsonLog
) -> None:
    assert [with_counters(count) for _ in range(2)] == [1, 2]
    proxy.cut()
    assert [with_counters(count) for _ in range(2)] == [1, 2]
    proxy.restore()
    time.sleep(COOLOFF + 0.05)
    assert with_counters(count) == 3  # Redis's own count goes on
    assert int(direct.get(direct.keys("*guard-test-hits*")[0]) or 0) == 3
    assert [level for level, _ in breaker_lines(json_log)] == ["WARNING", "INFO"]
    assert breaker_lines(json_log)[1][1].startswith("Redis answers again after ")


@pytest.mark.redis
def test_a_hanging_redis_costs_one_call_the_timeout_per_cooloff(proxy: TcpProxy) -> None:
    assert with_counters(count) == 1  # a pooled connection, in use
    proxy.hang()
    started = time.monotonic()
    assert with_counters(count) == 1
    assert TIMEOUT * 0.9 <= time.monotonic() - started <= TIMEOUT + 0.5
    started = time.monotonic()
    assert [with_counters(count) for _ in range(5)] == [2, 3, 4, 5, 6]
    assert time.monotonic() - started < TIMEOUT, "calls waited for Redis during the cool-off"


def test_with_counters_falls_back_when_redis_refuses(settings: Any, json_log: JsonLog) -> None:
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{free_port()}/0", TIMEOUT)
    assert [with_counters(count) for _ in range(2)] == [1, 2]
    assert [level for level, _ in breaker_lines(json_log)] == ["WARNING"]


# --- call -------------------------------------------------------------------------------------


@pytest.mark.redis
def test_call_gives_the_operations_result_while_redis_answers(
    through: redis.Redis, direct: redis.Redis
) -> None:
    assert call(lambda: through.set("guard-test-key", "v")) is True
    assert direct.get("guard-test-key") == b"v"
    direct.delete("guard-test-key")


@pytest.mark.redis
@pytest.mark.parametrize("failure", ["cut", "hang"])
def test_call_raises_redis_unavailable_while_redis_is_down(
    proxy: TcpProxy, through: redis.Redis, settings: Any, json_log: JsonLog, failure: str
) -> None:
    settings.REDIS_RETRY_AFTER = 7
    assert call(through.ping) is True
    getattr(proxy, failure)()
    with pytest.raises(RedisUnavailable) as caught:
        call(through.ping)
    assert caught.value.code == "redis_unavailable"
    assert caught.value.status_code == 503
    assert caught.value.retry_after == 7
    # Known to be down now: the next call does not try, let alone wait.
    started = time.monotonic()
    with pytest.raises(RedisUnavailable):
        call(through.ping)
    assert time.monotonic() - started < TIMEOUT / 3
    assert [level for level, _ in breaker_lines(json_log)] == ["WARNING"]


def test_an_error_that_is_no_outage_is_the_callers_own() -> None:
    def broken() -> None:
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError, match="a bug"):
        call(broken)
    assert call(lambda: "still up") == "still up"


# --- bounded ----------------------------------------------------------------------------------


@pytest.mark.redis
def test_bounded_gives_up_after_redis_timeout(
    proxy: TcpProxy, settings: Any, json_log: JsonLog
) -> None:
    settings.REDIS_TIMEOUT = TIMEOUT
    url = str(settings.CACHES["default"]["LOCATION"])  # through the proxy

    async def ping_twice() -> tuple[Any, float]:
        # A long socket timeout of its own, as the channel layer has: `bounded` decides.
        client = redis.asyncio.Redis.from_url(url, socket_timeout=30)
        try:
            first = await bounded(client.ping())
            proxy.hang()
            started = time.monotonic()
            with pytest.raises(RedisUnavailable):
                await bounded(client.ping())
            return first, time.monotonic() - started
        finally:
            await client.aclose(close_connection_pool=True)

    first, waited = async_to_sync(ping_twice)()
    assert first is True
    assert TIMEOUT * 0.9 <= waited <= TIMEOUT + 0.5, waited
    assert "TimeoutError" in breaker_lines(json_log)[0][1]


def test_bounded_stops_an_operation_that_never_ends(settings: Any) -> None:
    settings.REDIS_TIMEOUT = TIMEOUT

    async def forever() -> float:
        started = time.monotonic()
        with pytest.raises(RedisUnavailable):
            await bounded(asyncio.sleep(60))
        return time.monotonic() - started

    assert TIMEOUT * 0.9 <= async_to_sync(forever)() <= TIMEOUT + 0.5


def test_while_redis_is_down_bounded_does_not_start_the_operation() -> None:
    redis_guard.breaker.failed(ConnectionError("down"))
    operation = asyncio.sleep(60)

    async def attempt() -> None:
        await bounded(operation)

    with pytest.raises(RedisUnavailable):
        async_to_sync(attempt)()
    # Closed without running: Python has no "never awaited" warning to give.
    assert inspect.getcoroutinestate(operation) == inspect.CORO_CLOSED


@pytest.mark.parametrize(("proves_up", "next_call_tries"), [(True, True), (False, False)])
def test_only_an_operation_that_proves_redis_up_ends_the_outage(
    short_cooloff: None, proves_up: bool, next_call_tries: bool
) -> None:
    redis_guard.breaker.failed(ConnectionError("down"))
    time.sleep(COOLOFF + 0.05)  # the cool-off has passed: the next use is let through

    async def join() -> str:
        await asyncio.sleep(0)
        return "joined"

    async def probe() -> str:
        return await bounded(join(), proves_up=proves_up)

    assert async_to_sync(probe)() == "joined"
    tried: list[bool] = []
    with contextlib.suppress(RedisUnavailable):
        call(lambda: tried.append(True))
    assert bool(tried) is next_call_tries


# --- A Redis outage that other code let through: 503, never a 500 (answer_outages) -----------

# exception raised by a view, status, code, Retry-After
OUTAGE_ROWS: list[tuple[Callable[[], BaseException], int, str, str | None]] = [
    (
        lambda: redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379."),
        503,
        "redis_unavailable",
        "7",
    ),
    (
        lambda: redis.exceptions.TimeoutError("Timeout reading from socket"),
        503,
        "redis_unavailable",
        "7",
    ),
    (lambda: redis.exceptions.BusyLoadingError("Redis is loading"), 503, "redis_unavailable", "7"),
    (lambda: redis.exceptions.ResponseError("WRONGTYPE at 6379"), 500, "internal_error", None),
    (lambda: TimeoutError("timed out on socket"), 500, "internal_error", None),
    (lambda: ConnectionRefusedError(111, "Connection refused"), 500, "internal_error", None),
]


@pytest.mark.parametrize("view", ["plain", "drf"])
@pytest.mark.parametrize(
    ("make", "status", "code", "retry_after"),
    OUTAGE_ROWS,
    ids=["connection", "timeout", "loading", "response", "other-timeout", "refused"],
)
@pytest.mark.django_db
def test_an_outage_error_nothing_caught_is_503_redis_unavailable(
    make: Callable[[], BaseException],
    status: int,
    code: str,
    retry_after: str | None,
    view: str,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.REDIS_RETRY_AFTER = 7
    monkeypatch.setitem(RAISERS, "redis", make)
    response = Client(raise_request_exception=False).get(
        f"/t/{view}/raise/redis", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.headers.get("Retry-After") == retry_after
    # Nothing of the driver's text or the address reaches the client.
    assert "6379" not in response.content.decode() and "socket" not in response.content.decode()
