"""The workspaces API: validate input, call one service function, serialize the result.

No view catches exceptions: every error is answered by the `errors` exception handler.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any, cast

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .pagination import ValidatedLimitOffsetPagination
from .serializers import PageInput, WorkspaceInput, WorkspaceOutput, workspace_data


def owner_id(request: Request) -> int:
    """The id of the authenticated caller (the default permission class requires one)."""
    return cast(int, request.user.pk)


class WorkspaceListView(APIView):
    """`GET` the caller's workspaces (paginated by limit/offset); `POST` a new one."""

    # Domain codes of the service, per method (errors/openapi.py documents them).
    error_codes = {"post": ("workspace_name_conflict",)}
    pagination_class = ValidatedLimitOffsetPagination

    @extend_schema(
        operation_id="workspaces_list",
        parameters=[PageInput],
        responses=inline_serializer(
            "WorkspacePage",
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": WorkspaceOutput(many=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        workspaces = paginator.paginate(
            request, partial(services.workspace_list, owner_id=owner_id(request))
        )
        return paginator.get_paginated_response(WorkspaceOutput(workspaces, many=True).data)

    @extend_schema(
        request=WorkspaceInput,
        responses={201: WorkspaceOutput},
        parameters=[
            OpenApiParameter(
                "Location",
                str,
                OpenApiParameter.HEADER,
                response=[201],
                description="The new workspace's URL.",
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = WorkspaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = services.workspace_create(owner_id=owner_id(request), **data.validated_data)
        location = reverse("workspaces:detail", kwargs={"workspace_id": workspace.id})
        return Response(workspace_data(workspace), status=201, headers={"Location": location})


class WorkspaceDetailView(APIView):
    """`GET`, `PUT`, `PATCH` or `DELETE` one of the caller's workspaces."""

    error_codes = {"put": ("workspace_name_conflict",), "patch": ("workspace_name_conflict",)}

    @extend_schema(responses=WorkspaceOutput)
    def get(self, request: Request, workspace_id: uuid.UUID) -> Response:
        workspace = services.workspace_get(owner_id=owner_id(request), workspace_id=workspace_id)
        return Response(workspace_data(workspace))

    @extend_schema(request=WorkspaceInput, responses=WorkspaceOutput)
    def put(self, request: Request, workspace_id: uuid.UUID) -> Response:
        return self._update(request, workspace_id, partial=False)

    @extend_schema(request=WorkspaceInput, responses=WorkspaceOutput)
    def patch(self, request: Request, workspace_id: uuid.UUID) -> Response:
        return self._update(request, workspace_id, partial=True)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, workspace_id: uuid.UUID) -> Response:
        services.workspace_delete(owner_id=owner_id(request), workspace_id=workspace_id)
        return Response(status=204)

    def _update(self, request: Request, workspace_id: uuid.UUID, *, partial: bool) -> Response:
        # Like DRF's generic views (get_object() first): a workspace the caller cannot see is
        # 404 whatever the body, so an invalid body never tells a stranger's id apart from none.
        services.workspace_get(owner_id=owner_id(request), workspace_id=workspace_id)
        data = WorkspaceInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        changes: dict[str, Any] = dict(data.validated_data)
        workspace = services.workspace_update(
            owner_id=owner_id(request), workspace_id=workspace_id, changes=changes
        )
        return Response(workspace_data(workspace))
