"""The four views every stack serves: 200, 404 (NotFound), 400 (validation) and 500 (a crash);
the `errors` stacks add the app's Django error views, as its setup instructs."""

from typing import Any

from django.conf import settings
from django.urls import path
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class OkView(APIView):
    def get(self, request: Request) -> Response:
        return Response({"status": "ok", "items": [1, 2, 3], "name": "overhead"})


class NotFoundView(APIView):
    def get(self, request: Request) -> Response:
        raise NotFound("No widget with that id.")


class WidgetSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    quantity = serializers.IntegerField(min_value=0)


class InvalidView(APIView):
    def post(self, request: Request) -> Response:
        serializer = WidgetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class CrashView(APIView):
    def get(self, request: Request) -> Any:
        raise RuntimeError("widget store exploded")


urlpatterns = [
    path("ok", OkView.as_view()),
    path("missing", NotFoundView.as_view()),
    path("invalid", InvalidView.as_view()),
    path("crash", CrashView.as_view()),
]

if "errors" in settings.INSTALLED_APPS:
    handler400 = "errors.views.bad_request"
    handler403 = "errors.views.permission_denied"
    handler404 = "errors.views.page_not_found"
    handler500 = "errors.views.server_error"
