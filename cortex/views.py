"""Views of the project itself (not of any app)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse

from cortex import redis_guard
from errors.db import translate


def _redis_state() -> str:
    """`ok`, `unavailable` (refused, too slow, or left alone by the breaker), or `not_used`."""
    if not settings.REDIS_URL:
        return "not_used"
    try:
        redis_guard.call(lambda: cache.get("cortex:healthz"))
    except redis_guard.RedisUnavailable:
        return "unavailable"
    return "ok"


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness, with the database and Redis reported apart.

    The database decides the status: without it the service can do nothing, so an unreachable
    database is 503 `db_connection_error` with Retry-After (what load balancers and orchestrators
    expect), `details` saying which part is down. Redis does not: while it is down the API keeps
    answering (throttles count per process) and only new event streams are refused, so the answer
    stays 200 with `"status": "degraded"` — a shared Redis's outage must not take every instance
    out of the load balancer at once. Each check is bounded (DB_CLIENT_TIMEOUT, REDIS_TIMEOUT_MS).
    """
    redis = _redis_state()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        error = translate(exc)
        error.details.update({"database": "unavailable", "redis": redis})
        raise error from exc
    status = "degraded" if redis == "unavailable" else "ok"
    return JsonResponse({"status": status, "database": "ok", "redis": redis})
