"""The service's URLs plus the test-only views under /t/."""

from django.urls import URLPattern, URLResolver, include, path

from cortex import urls as service_urls
from cortex.urls import handler400, handler403, handler404, handler500

urlpatterns: list[URLPattern | URLResolver] = [
    *service_urls.urlpatterns,
    path("t/", include("tests.testapp.urls")),
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
