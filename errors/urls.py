"""The URLs `errors` serves: `/metrics` and the problem-details `type` pages (docs/metrics.md)."""

from django.urls import path

from .views import error_code, metrics

urlpatterns = [
    path("metrics", metrics, name="metrics"),
    path("api/errors/<str:code>", error_code, name="error-code"),
]
