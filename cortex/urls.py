"""URLs of the Cortex service."""

from django.urls import URLPattern, URLResolver, include, path

from cortex.views import healthz
from errors.views import error_code, metrics

urlpatterns: list[URLPattern | URLResolver] = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("api/errors/<str:code>", error_code, name="error-code"),
    path("api/auth/", include("accounts.urls")),
    path("api/workspaces/", include("workspaces.urls")),
]

handler400 = "errors.views.bad_request"
handler403 = "errors.views.permission_denied"
handler404 = "errors.views.page_not_found"
handler500 = "errors.views.server_error"
