"""Two DRF views of the standalone project: a missing widget and an unexpected crash."""

from __future__ import annotations

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from errors.exceptions import NotFoundException


class WidgetView(APIView):
    """Every widget is missing."""

    def get(self, request: Request, pk: int) -> Response:
        raise NotFoundException(resource_type="widget", resource_id=pk)


class CrashView(APIView):
    """Fails with an exception whose text must never reach the client."""

    def get(self, request: Request) -> Response:
        raise RuntimeError("secret")


urlpatterns = [
    path("widgets/<int:pk>/", WidgetView.as_view()),
    path("crash/", CrashView.as_view()),
]
