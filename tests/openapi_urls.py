"""A small URLconf of views that know nothing of error documentation (tests/errors/test_openapi).

The views only state what any DRF view states (serializer, permissions, throttles); their error
responses must come from `errors.openapi.ErrorResponsesAutoSchema` alone.
"""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response


class GadgetSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=50)


class GadgetListView(generics.ListCreateAPIView[Any]):
    """A new view with the project's default authentication, permission and throttle."""

    serializer_class = GadgetSerializer

    def get_queryset(self) -> Any:
        return []


class GadgetDetailView(generics.GenericAPIView[Any]):
    serializer_class = GadgetSerializer
    # A domain code for one method, as a service would declare it.
    error_codes = {"delete": ("conflict",)}

    def get(self, request: Request, gadget_id: int) -> Response:
        return Response({"name": "gadget"})

    def delete(self, request: Request, gadget_id: int) -> Response:
        return Response(status=204)


class PingView(generics.GenericAPIView[Any]):
    """Public, unauthenticated and unthrottled."""

    serializer_class = GadgetSerializer
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response({"name": "pong"})


urlpatterns = [
    path("gadgets/", GadgetListView.as_view()),
    path("gadgets/<int:gadget_id>/", GadgetDetailView.as_view()),
    path("ping/", PingView.as_view()),
]
