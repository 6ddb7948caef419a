"""Views of the project itself (not of any app)."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability.

    A database that cannot be reached raises here; the errors middleware answers it with 503
    `db_connection_error` and Retry-After, which is what load balancers and orchestrators expect.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return JsonResponse({"status": "ok", "database": "ok"})
