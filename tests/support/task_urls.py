"""The test URLs plus `POST /tasks/<name>/`, which enqueues `tests.support.tasks.<name>` with the
request body as its text (through `errors.tasks.enqueue`, so under the request's correlation id)
and answers the task's id and status as JSON."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, path
from django.views.decorators.csrf import csrf_exempt

from errors.tasks import enqueue
from tests import urls as test_urls
from tests.support import tasks
from tests.urls import handler400, handler403, handler404, handler500


@csrf_exempt
def enqueue_task(request: HttpRequest, name: str) -> HttpResponse:
    if request.method != "POST" or name not in {"note", "note_async", "note_attempt", "explode"}:
        return HttpResponse(status=404)
    result = enqueue(getattr(tasks, name), request.body.decode())
    return JsonResponse({"id": str(result.id), "status": str(result.status)})


urlpatterns: list[URLPattern | URLResolver] = [
    path("tasks/<str:name>/", enqueue_task),
    *test_urls.urlpatterns,
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
