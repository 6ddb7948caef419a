"""Throttles while Redis, where their counters live, cannot be reached.

The API goes on answering: the counters move into the process (each process applies the rates on
its own) and the outage is logged once, not per request. During an outage Redis is tried again
once per cool-off, not by every request, so a Redis that hangs costs one request the timeout, not
each of them. When Redis answers again the counters go back to it, and that is logged once too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from accounts.tokens import issue_token
from cortex import redis_guard
from cortex.breaker import CircuitBreaker
from tests.conftest import JsonLog
from tests.support.caches import redis_cache
from tests.support.servers import free_port
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.django_db

LIST = "/api/workspaces/"
TIMEOUT = 0.3  # the Redis timeout the tests' caches run with


@pytest.fixture
def api(db: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(User.objects.create_user('u')).key}")
    return client


@pytest.fixture
def rates(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "100/minute", "user": "3/minute"},
    }


@pytest.fixture
def refusing_redis(settings: Any) -> None:
    """The cache is a Redis that refuses every connection (nothing listens on its port)."""
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{free_port()}/0", TIMEOUT)


@pytest.fixture
def proxied_redis(settings: Any, redis_url: str) -> Iterator[TcpProxy]:
    """The cache is the test's Redis, through a proxy the test can cut or hang."""
    target = urlsplit(settings.CACHES["default"]["LOCATION"])
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{proxy.port}{target.path}", TIMEOUT)
    try:
        yield proxy
    finally:
        proxy.close()


def breaker_lines(json_log: JsonLog) -> list[tuple[str, str]]:
    return [
        (record["level"], record["message"])
        for record in json_log.records()
        if record["logger"] == "cortex.breaker"
    ]


def statuses(api: APIClient, count: int) -> list[int]:
    return [api.get(LIST).status_code for _ in range(count)]


def test_with_redis_refusing_the_api_answers_and_the_outage_is_logged_once(
    api: APIClient, refusing_redis: None, json_log: JsonLog
) -> None:
    assert statuses(api, 3) == [200, 200, 200]
    (line,) = breaker_lines(json_log)
    assert line[0] == "WARNING"
    assert line[1].startswith("Redis cannot be reached (ConnectionError)")
    # Not an error of any request: nothing for the `errors` logger or the alert.
    assert [r for r in json_log.records() if r["logger"] == "errors"] == []


def test_while_redis_is_down_the_rates_still_hold_in_the_process(
    api: APIClient, rates: None, refusing_redis: None
) -> None:
    assert statuses(api, 4) == [200, 200, 200, 429]
    refused = api.get(LIST)
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(refused["Retry-After"]) >= 1


def test_the_login_throttle_counts_in_the_process_meanwhile(
    db: Any, settings: Any, refusing_redis: None
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "2/minute", "user": "100/minute"},
    }
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    answers = [
        client.post("/api/auth/token/", {"username": "x", "password": "y"}, format="json")
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [401, 401, 429]


@pytest.mark.redis
def test_a_hanging_redis_costs_one_request_the_timeout_per_cooloff(
    api: APIClient, proxied_redis: TcpProxy, json_log: JsonLog
) -> None:
    assert api.get(LIST).status_code == 200  # a pooled connection to Redis, in use
    proxied_redis.hang()
    started = time.monotonic()
    assert api.get(LIST).status_code == 200
    first = time.monotonic() - started
    assert TIMEOUT * 0.9 <= first <= TIMEOUT + 0.5, first
    # The rest of the cool-off, nobody waits for Redis.
    started = time.monotonic()
    assert statuses(api, 5) == [200] * 5
    assert time.monotonic() - started < TIMEOUT, "requests waited for Redis during the cool-off"
    assert [level for level, _ in breaker_lines(json_log)] == ["WARNING"]
    assert "TimeoutError" in breaker_lines(json_log)[0][1]


@pytest.mark.redis
def test_when_redis_answers_again_the_counters_go_back_to_it(
    api: APIClient,
    rates: None,
    proxied_redis: TcpProxy,
    json_log: JsonLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import redis

    monkeypatch.setattr(redis_guard, "breaker", CircuitBreaker("Redis", cooloff=0.2))
    proxied_redis.cut()
    assert statuses(api, 2) == [200, 200]  # counted in the process
    proxied_redis.restore()
    time.sleep(0.25)
    # Redis again: its count starts afresh, so the process's two do not carry over.
    assert statuses(api, 3) == [200, 200, 200]
    assert api.get(LIST).status_code == 429
    assert [level for level, _ in breaker_lines(json_log)] == ["WARNING", "INFO"]
    assert breaker_lines(json_log)[1][1].startswith("Redis answers again after ")
    client = redis.Redis.from_url(direct_url(proxied_redis))
    try:
        assert client.keys("*throttle_user_*")
    finally:
        client.close()


def direct_url(proxy: TcpProxy) -> str:
    """The test's Redis itself, not through the proxy (the database the cache uses)."""
    from django.conf import settings

    path = urlsplit(str(settings.CACHES["default"]["LOCATION"])).path
    return f"redis://{proxy.target[0]}:{proxy.target[1]}{path}"
