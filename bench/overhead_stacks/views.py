"""The four DRF views every stack serves: 200, 404, 400 (validation) and 500 (a crash)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class OkView(APIView):
    """200 with a small JSON body."""

    def get(self, request: Request) -> Response:
        """Answer a small dict."""
        return Response({"status": "ok", "items": [1, 2, 3], "name": "overhead"})


class NotFoundView(APIView):
    """404 raised as DRF's NotFound, answered by the exception handler."""

    def get(self, request: Request) -> Response:
        """Raise NotFound."""
        raise NotFound("No widget with that id.")


class WidgetSerializer(serializers.Serializer):
    """Two fields; the benchmark's body makes both invalid."""

    name = serializers.CharField(max_length=50)
    quantity = serializers.IntegerField(min_value=0)


class InvalidView(APIView):
    """400: a JSON body parsed by DRF and rejected by a two-field serializer."""

    def post(self, request: Request) -> Response:
        """Validate the body; raise_exception turns the errors into a ValidationError."""
        serializer = WidgetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class CrashView(APIView):
    """500: an exception no handler knows about."""

    def get(self, request: Request) -> Any:
        """Raise RuntimeError."""
        raise RuntimeError("widget store exploded")
