"""URLs of the workspaces API (mounted under /api/ by cortex/urls.py).

Each URL is served with and without its trailing slash. Django's APPEND_SLASH answers a request
to the slashless form with a 301, which clients follow with a GET: a POST, PUT or PATCH would
lose its body (and under DEBUG, Django raises RuntimeError instead: a 500). The slashless forms
are unnamed, so `reverse()` and `Location` give the canonical URL, and left out of the OpenAPI
schema (`schema=None`), which lists each operation once.
"""

from django.urls import path

from .views import WorkspaceDetailView, WorkspaceListView

app_name = "workspaces"

urlpatterns = [
    path("workspaces/", WorkspaceListView.as_view(), name="list"),
    path("workspaces/<uuid:workspace_id>/", WorkspaceDetailView.as_view(), name="detail"),
    path("workspaces", WorkspaceListView.as_view(schema=None)),
    path("workspaces/<uuid:workspace_id>", WorkspaceDetailView.as_view(schema=None)),
]
