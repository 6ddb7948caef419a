"""Views of the project itself (not of any app)."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotModified,
    JsonResponse,
)
from django.utils.http import http_date
from django.utils.translation import gettext
from django.views.static import was_modified_since

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

    Found the way `collectstatic` would find it, so no build step is needed to run the service.
    The files are small, so the answer is read whole: Django's `serve` streams a file from a
    synchronous iterator, which Django warns about on every request under ASGI. Revalidated on
    each use (`no-cache` + Last-Modified), so a deploy never leaves a browser with a stale client.
    A proxy in front may serve the output of `collectstatic` under STATIC_URL instead.
    """
    found = finders.find(path)
    if not isinstance(found, str):
        raise Http404(gettext("No such static file"))
    file = Path(found)
    modified = file.stat().st_mtime
    if not was_modified_since(request.headers.get("If-Modified-Since"), modified):
        response: HttpResponseBase = HttpResponseNotModified()
    else:
        response = HttpResponse(file.read_bytes(), content_type=_content_type(file.name))
    response["Last-Modified"] = http_date(modified)
    response["Cache-Control"] = "no-cache"
    return response


def _content_type(name: str) -> str:
    if name.endswith(".js"):  # RFC 9239, whatever the machine's mime.types says
        return "text/javascript; charset=utf-8"
    if name.endswith(".ts"):  # TypeScript declarations, not an MPEG transport stream
        return "text/plain; charset=utf-8"
    guessed, _ = mimetypes.guess_type(name)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed
