"""cortex's URLs plus `bench/bare/`: one DRF view without authentication, permission, throttle
or database, i.e. what a DRF answer costs in this process (daphne, middleware, rendering)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

# A root URLconf's error views are its own: cortex's.
from cortex.urls import handler400, handler403, handler404, handler500  # noqa: F401
from cortex.urls import urlpatterns as cortex_urlpatterns


class BareView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns: list[URLPattern | URLResolver] = [
    *cortex_urlpatterns,
    path("bench/bare/", BareView.as_view()),
]
