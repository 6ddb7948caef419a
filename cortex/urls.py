"""URLs of the Cortex service."""

from pathlib import Path

import drf_spectacular_sidecar
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cortex.views import healthz, static_file

# Swagger UI's files, served by the service itself (not a CDN, which production networks may not
# reach) under daphne and runserver alike; a proxy in front may serve /static/ instead.
SIDECAR_DIR = Path(drf_spectacular_sidecar.__file__).resolve().parent / "static"

urlpatterns: list[URLPattern | URLResolver] = [
    path("healthz", healthz, name="healthz"),
    path("", include("errors.urls")),
    path("api/auth/", include("accounts.urls")),
    # POST api/events/tickets/; GET api/events/ itself is the stream, routed in cortex/asgi.py.
    path("api/events/", include("eventstream.urls")),
    # api/workspaces/… with and without the trailing slash (see workspaces/urls.py).
    path("api/", include("workspaces.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script as a file (`?script`), not inline: the
    # page's Content-Security-Policy runs scripts from the service only (cortex/security.py).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    re_path(
        r"^static/(?P<path>drf_spectacular_sidecar/.+)$",
        serve,
        {"document_root": SIDECAR_DIR},
        name="sidecar-static",
    ),
    re_path(r"^static/(?P<path>(?:errors|eventstream|console)/.+)$", static_file, name="static"),
    path("", include("console.urls")),
]

handler400 = "errors.views.bad_request"
handler403 = "errors.views.permission_denied"
handler404 = "errors.views.page_not_found"
handler500 = "errors.views.server_error"
