"""The shared URLs plus the `errors` app's Django error views, as its setup instructs."""

from __future__ import annotations

from .urls import urlpatterns

__all__ = ["urlpatterns"]

handler400 = "errors.views.bad_request"
handler403 = "errors.views.permission_denied"
handler404 = "errors.views.page_not_found"
handler500 = "errors.views.server_error"
