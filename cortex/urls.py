"""URLs of the Cortex service."""

from django.urls import path

from cortex.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
]

handler400 = "errors.views.bad_request"
handler403 = "errors.views.permission_denied"
handler404 = "errors.views.page_not_found"
handler500 = "errors.views.server_error"
