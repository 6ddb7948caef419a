"""Cache settings for tests that point Django's Redis cache somewhere of their own."""

from __future__ import annotations

from typing import Any


def redis_cache(url: str, timeout: float) -> dict[str, Any]:
    """CACHES with Django's Redis cache at `url`, giving up on Redis after `timeout` seconds."""
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": timeout, "socket_timeout": timeout},
        }
    }
