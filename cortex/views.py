"""Views of the project itself (not of any app)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponseBase, JsonResponse
from django.views.static import serve

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


def static_file(request: HttpRequest, path: str) -> HttpResponseBase:
    """A file of an app's `static/` folder (the client module, the console's script and style).

    Found the way `collectstatic` would find it, so no build step is needed to run the service;
    Django's `serve` answers conditional requests and guesses the content type. A proxy in front
    may serve the output of `collectstatic` under STATIC_URL instead.
    """
    found = finders.find(path)
    if not isinstance(found, str):
        raise Http404("No such static file")
    file = Path(found)
    response = serve(request, file.name, document_root=str(file.parent))
    response["Cache-Control"] = "no-cache"  # revalidated each time: no stale client after a deploy
    return response
