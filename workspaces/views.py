"""The workspaces API: validate input, call one service function, serialize the result.

No view catches exceptions: every error is answered by the `errors` exception handler.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any, cast

from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safewrites.idempotency import KEY_PATTERN, idempotent
from safewrites.preconditions import check, etag, expected_versions, not_modified

from . import services
from .models import Workspace
from .pagination import ValidatedLimitOffsetPagination
from .serializers import PageInput, WorkspaceInput, WorkspaceOutput, workspace_data


def owner_id(request: Request) -> int:
    """The id of the authenticated caller (the default permission class requires one)."""
    return cast(int, request.user.pk)


def _header(
    name: str, description: str, response: list[int] | None = None, pattern: str | None = None
) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        str,
        OpenApiParameter.HEADER,
        response=response or False,
        description=description,
        pattern=pattern,
    )


ETAG = _header("ETag", "The workspace's version, for If-Match and If-None-Match.", [200, 201])
IF_MATCH = _header(
    "If-Match",
    "The ETag of the version this change is based on: 412 `precondition_failed` if another "
    "request changed the workspace since.",
)
IF_NONE_MATCH = _header("If-None-Match", "An ETag: 304 while it is the current version.")
IDEMPOTENCY_KEY = _header(
    "Idempotency-Key",
    "One key per operation, kept across its retries (1-255 letters, digits and -_.:~+/=): "
    "a retry gets the first answer again, with `Idempotent-Replayed: true`.",
    pattern=KEY_PATTERN,
)
# Codes of the conditional writes (the service does not require If-Match: see README).
PRECONDITION_CODES = ("precondition_failed", "precondition_required")
IDEMPOTENCY_CODES = ("idempotency_key_invalid", "idempotency_in_progress", "idempotency_key_reused")


def workspace_response(workspace: Workspace, status: int = 200, **headers: str) -> Response:
    """The workspace's representation, with its version as the ETag."""
    headers["ETag"] = etag(workspace.version)
    return Response(workspace_data(workspace), status=status, headers=headers)


class WorkspaceListView(APIView):
    """`GET` the caller's workspaces (paginated by limit/offset); `POST` a new one."""

    # Domain codes of the service, per method (errors/openapi.py documents them).
    error_codes = {"post": ("workspace_name_conflict", *IDEMPOTENCY_CODES)}
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
        parameters=[_header("Location", "The new workspace's URL.", [201]), ETAG, IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = WorkspaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = services.workspace_create(owner_id=owner_id(request), **data.validated_data)
        location = reverse("workspaces:detail", kwargs={"workspace_id": workspace.id})
        return workspace_response(workspace, 201, Location=location)


class WorkspaceDetailView(APIView):
    """`GET`, `PUT`, `PATCH` or `DELETE` one of the caller's workspaces."""

    error_codes = {
        "put": ("workspace_name_conflict", *PRECONDITION_CODES),
        "patch": ("workspace_name_conflict", *PRECONDITION_CODES),
        "delete": PRECONDITION_CODES,
    }

    @extend_schema(
        responses={
            200: WorkspaceOutput,
            304: OpenApiResponse(description="Not modified: If-None-Match names this version."),
        },
        parameters=[ETAG, IF_NONE_MATCH],
    )
    def get(self, request: Request, workspace_id: uuid.UUID) -> Response:
        workspace = services.workspace_get(owner_id=owner_id(request), workspace_id=workspace_id)
        return not_modified(request, workspace.version) or workspace_response(workspace)

    @extend_schema(request=WorkspaceInput, responses=WorkspaceOutput, parameters=[ETAG, IF_MATCH])
    def put(self, request: Request, workspace_id: uuid.UUID) -> Response:
        return self._update(request, workspace_id, partial=False)

    @extend_schema(request=WorkspaceInput, responses=WorkspaceOutput, parameters=[ETAG, IF_MATCH])
    def patch(self, request: Request, workspace_id: uuid.UUID) -> Response:
        return self._update(request, workspace_id, partial=True)

    @extend_schema(responses={204: None}, parameters=[IF_MATCH])
    def delete(self, request: Request, workspace_id: uuid.UUID) -> Response:
        # The preconditions come after "not found" and before the work (RFC 9110, 13.2.2).
        workspace = services.workspace_get(owner_id=owner_id(request), workspace_id=workspace_id)
        expected = expected_versions(request)
        check(expected, workspace.version)
        services.workspace_delete(
            owner_id=owner_id(request), workspace_id=workspace_id, versions=expected
        )
        return Response(status=204)

    def _update(self, request: Request, workspace_id: uuid.UUID, *, partial: bool) -> Response:
        # Like DRF's generic views (get_object() first): a workspace the caller cannot see is
        # 404 whatever the body, so an invalid body never tells a stranger's id apart from none.
        # A stale If-Match is 412 before the body is read.
        workspace = services.workspace_get(owner_id=owner_id(request), workspace_id=workspace_id)
        expected = expected_versions(request)
        check(expected, workspace.version)
        data = WorkspaceInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        changes: dict[str, Any] = dict(data.validated_data)
        workspace = services.workspace_update(
            owner_id=owner_id(request),
            workspace_id=workspace_id,
            changes=changes,
            versions=expected,
        )
        return workspace_response(workspace)
