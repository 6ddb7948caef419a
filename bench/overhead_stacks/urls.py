"""URLs shared by every stack; the paths have no trailing slash and resolve directly."""

from __future__ import annotations

from django.urls import path

from .views import CrashView, InvalidView, NotFoundView, OkView

urlpatterns = [
    path("ok", OkView.as_view()),
    path("missing", NotFoundView.as_view()),
    path("invalid", InvalidView.as_view()),
    path("crash", CrashView.as_view()),
]
