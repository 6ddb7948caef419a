"""cortex's URLs plus `bench/bare/`: the baseline of bench/load.py.

The bare view skips authentication, permissions and throttling and touches no database, so it
measures what one DRF view costs in this process (daphne, every middleware, DRF's dispatch,
rendering) and nothing of the workspaces API.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cortex.urls import urlpatterns as cortex_urlpatterns


class BareView(APIView):
    """`GET` answers `{"ok": true}` without authentication, permission or throttle checks."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def get(self, request: Request) -> Response:
        """The smallest DRF answer."""
        return Response({"ok": True})


urlpatterns: list[URLPattern | URLResolver] = [
    *cortex_urlpatterns,
    path("bench/bare/", BareView.as_view(), name="bench-bare"),
]

# The same error views as cortex.urls: a root URLconf's handlers are not inherited.
handler400 = "errors.views.bad_request"
handler403 = "errors.views.permission_denied"
handler404 = "errors.views.page_not_found"
handler500 = "errors.views.server_error"
