"""cortex's URLs plus `bench/bare/`: one DRF view without authentication, permission, throttle
or database, i.e. what a DRF answer costs in this process (daphne, middleware, rendering)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

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

# A root URLconf's error views are its own: the same as cortex.urls.
handler400 = "errors.views.bad_request"
handler403 = "errors.views.permission_denied"
handler404 = "errors.views.page_not_found"
handler500 = "errors.views.server_error"
