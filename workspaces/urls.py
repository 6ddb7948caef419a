"""URLs of the workspaces API (mounted under /api/workspaces/)."""

from django.urls import path

from .views import WorkspaceDetailView, WorkspaceListView

app_name = "workspaces"

urlpatterns = [
    path("", WorkspaceListView.as_view(), name="list"),
    path("<uuid:workspace_id>/", WorkspaceDetailView.as_view(), name="detail"),
]
