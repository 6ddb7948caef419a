"""`POST /api/auth/token/`: a username and password in, an API token out."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .authentication import issue_token
from .throttling import LoginRateThrottle


class CredentialsInput(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenView(APIView):
    """Exchange credentials for the user's token (a new one once the old has expired)."""

    permission_classes = [AllowAny]
    # HTML forms and scripts may post credentials too. Not multipart: under daphne, Twisted
    # parses a multipart body before the application runs and answers a malformed one itself
    # with a bare 400 that no Django code can turn into the envelope.
    parser_classes = [JSONParser, FormParser]
    throttle_classes = [LoginRateThrottle]
    # Wrong credentials (errors/openapi.py documents the view's other errors from its classes).
    error_codes = ("authentication_error",)

    @extend_schema(
        request=CredentialsInput,
        responses=inline_serializer("TokenOutput", {"token": serializers.CharField()}),
    )
    def post(self, request: Request) -> Response:
        data = CredentialsInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request._request, **data.validated_data)
        if user is None or not user.is_active:
            raise AuthenticationFailed("Unable to log in with the provided credentials.")
        return Response({"token": issue_token(user).key})
