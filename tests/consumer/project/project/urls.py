"""URLs of the consumer project: errors' own URLs, the admin, plain views, and the DRF API."""

from django.apps import apps
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from shop import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("errors.urls")),
    path("admin/", admin.site.urls),
    path("views/ok/", views.ok),
    path("views/missing/", views.missing),
    path("views/crash/", views.crash),
    path("views/forbidden/", views.forbidden),
    path("views/slow/", views.slow),
    path("async/ok/", views.async_ok),
    path("async/missing/", views.async_missing),
    path("async/crash/", views.async_crash),
    path("async/forbidden/", views.async_forbidden),
    path("async/slow/", views.async_slow),
]

if apps.is_installed("rest_framework"):
    from shop.api import router

    urlpatterns.append(path("api/", include(router.urls)))
