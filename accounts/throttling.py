"""Throttles whose rates are read when a request is checked, not when DRF is imported.

DRF copies DEFAULT_THROTTLE_RATES into a class attribute at import time; reading the current
settings instead lets operators and tests change rates like any other setting. The counters live
in Django's default cache, which is Redis when REDIS_URL is set, so every process shares them.
While Redis cannot be reached they live in the process instead (cortex/redis_guard.py): each
process then applies the rates on its own, and the API keeps answering rather than failing on a
counter it cannot read.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import BaseCache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from cortex import redis_guard


class _Throttle(SimpleRateThrottle):
    scope: str

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate is None else str(rate)

    def allow_request(self, request: Request, view: Any) -> bool:
        """DRF's check, on the shared counters or, while Redis is down, this process's."""

        def check(counters: BaseCache) -> bool:
            self.cache = counters
            return super(_Throttle, self).allow_request(request, view)

        return redis_guard.with_counters(check)


class LoginRateThrottle(_Throttle):
    """Token requests per client address (`login` rate), whoever they claim to be."""

    scope = "login"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ApiUserRateThrottle(_Throttle, UserRateThrottle):
    """API requests per user (per address for anonymous ones), at the `user` rate."""

    scope = "user"
