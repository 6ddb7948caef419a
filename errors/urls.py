"""The URLs `errors` serves: `/metrics` and the problem-details `type` pages.

Include them at the root of your URLconf::

    urlpatterns = [path("", include("errors.urls")), ...]

`metrics` is Prometheus text format (404 while ERRORS_ENABLE_MONITORING is off);
`api/errors/<code>` is one catalog entry, where ERRORS_PROBLEM_TYPE_BASE (`/api/errors/`) points.
Included under another prefix, set ERRORS_PROBLEM_TYPE_BASE to match.
"""

from django.urls import path

from .views import error_code, metrics

urlpatterns = [
    path("metrics", metrics, name="metrics"),
    path("api/errors/<str:code>", error_code, name="error-code"),
]
