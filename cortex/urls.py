"""URLs of the Cortex service."""

from pathlib import Path

import drf_spectacular_sidecar
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cortex.views import healthz

# Swagger UI's files, served by the service itself (not a CDN, which production networks may not
# reach) under daphne and runserver alike; a proxy in front may serve /static/ instead.
SIDECAR_DIR = Path(drf_spectacular_sidecar.__file__).resolve().parent / "static"

urlpatterns: list[URLPattern | URLResolver] = [
    path("healthz", healthz, name="healthz"),
    path("", include("errors.urls")),
    path("api/auth/", include("accounts.urls")),
    path("api/workspaces/", include("workspaces.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    re_path(
        r"^static/(?P<path>drf_spectacular_sidecar/.+)$",
        serve,
        {"document_root": SIDECAR_DIR},
        name="sidecar-static",
    ),
]

handler400 = "errors.views.bad_request"
handler403 = "errors.views.permission_denied"
handler404 = "errors.views.page_not_found"
handler500 = "errors.views.server_error"
