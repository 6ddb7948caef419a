"""cortex.cache: the Redis cache keeps its connections for the process, also under ASGI, where
Django makes a cache backend per request (the service runs in a real daphne process here)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis
from django.core.cache import caches

from tests.support.fixtures import DaphneFactory
from tests.support.servers import current_database_url

pytestmark = pytest.mark.redis

REQUESTS = 20


def cache_settings(url: str, backend: str) -> dict[str, Any]:
    return {"default": {"BACKEND": backend, "LOCATION": url, "OPTIONS": {"socket_timeout": 2}}}


def connections_received(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("stats")["total_connections_received"])
    finally:
        client.close()


@pytest.mark.django_db(transaction=True)
def test_the_services_requests_share_the_connections_of_one_pool(
    daphne_factory: DaphneFactory, redis_url: str
) -> None:
    server = daphne_factory({"DATABASE_URL": current_database_url(), "REDIS_URL": redis_url})
    with httpx.Client(base_url=server.url, timeout=10) as client:

        def refused_login(index: int) -> None:
            credentials = {"username": f"nobody-{index}", "password": "wrong"}
            response = client.post("/api/auth/token/", json=credentials)
            # Refused after the throttle and the lockout counted the attempt in Redis.
            assert response.status_code in (401, 429), response.text

        refused_login(0)  # the pool's first connection
        before = connections_received(redis_url)
        for index in range(1, REQUESTS + 1):
            refused_login(index)
        opened = connections_received(redis_url) - before - 1  # less the one that asked
    # Django's own RedisCache opened one per request: a backend, and a pool, per request.
    assert opened <= 2, f"{opened} new connections to Redis for {REQUESTS} requests"


def test_two_backends_of_one_entry_share_a_client_and_others_do_not(
    settings: Any, redis_url: str
) -> None:
    settings.CACHES = cache_settings(redis_url, "cortex.cache.RedisCache")
    first, second = caches.create_connection("default"), caches.create_connection("default")
    assert first._cache is second._cache  # type: ignore[attr-defined]
    first.set("cortex-cache-test", "shared", 5)
    assert second.get("cortex-cache-test") == "shared"
    settings.CACHES = cache_settings(redis_url, "cortex.cache.RedisCache")  # other settings
    third = caches.create_connection("default")
    assert third._cache is not first._cache  # type: ignore[attr-defined]
    assert third.get("cortex-cache-test") == "shared"
