"""A URLconf with a DRF router, whose routes are regexes: the metrics' route labels use it."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path
from rest_framework import viewsets
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter


class WidgetViewSet(viewsets.ViewSet):
    """Widgets that exist for any id."""

    permission_classes = [AllowAny]

    def list(self, request: Request, format: str | None = None) -> Response:
        return Response([])

    def retrieve(self, request: Request, pk: str, format: str | None = None) -> Response:
        return Response({"id": pk})


router = DefaultRouter()
router.register("widgets", WidgetViewSet, basename="widget")

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("errors.urls")),
    path("api/", include(router.urls)),
]
