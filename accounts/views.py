"""`POST /api/auth/token/` (credentials in, a new API token out) and `POST /api/auth/logout/`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, user_logged_in, user_logged_out
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import lockout
from .authentication import ExpiringTokenAuthentication
from .throttling import LoginRateThrottle
from .tokens import issue_token, revoke_token


class CredentialsInput(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenOutput(serializers.Serializer[Any]):
    token = serializers.CharField(
        help_text="Send it as `Authorization: Token <token>` or `Authorization: Bearer <token>`."
    )
    expires_at = serializers.DateTimeField(help_text="When the token stops working.")


class TokenView(APIView):
    """Exchange credentials for a new token (each login gets one of its own)."""

    permission_classes = [AllowAny]
    # HTML forms and scripts may post credentials too, and JSON goes through the project's
    # parser (DEFAULT_PARSER_CLASSES). Not multipart: under daphne, Twisted parses a multipart
    # body before the application runs and answers a malformed one itself with a bare 400 that
    # no Django code can turn into the envelope.
    parser_classes = [*APIView.parser_classes, FormParser]
    # Per client address; accounts.lockout bounds the guesses per account.
    throttle_classes = [LoginRateThrottle]
    # Wrong credentials (errors/openapi.py documents the view's other errors from its classes).
    error_codes = ("authentication_error",)

    @extend_schema(request=CredentialsInput, responses=TokenOutput)
    def post(self, request: Request) -> Response:
        data = CredentialsInput(data=request.data)
        data.is_valid(raise_exception=True)
        username: str = data.validated_data["username"]
        # The client's address: the socket peer, or what a trusted proxy says (cortex.proxies).
        address = str(request.META.get("REMOTE_ADDR") or "")
        lockout.refuse_if_locked(username, address)
        user = authenticate(request._request, **data.validated_data)
        if user is None or not user.is_active:
            lockout.record_failure(username, address)
            raise AuthenticationFailed(gettext("Unable to log in with the provided credentials."))
        issued = issue_token(user)
        user_logged_in.send(sender=user.__class__, request=request._request, user=user)
        return Response(TokenOutput({"token": issued.key, "expires_at": issued.expires_at}).data)


class LogoutView(APIView):
    """Revoke the token that authenticates this request; it answers 401 from then on."""

    authentication_classes = [ExpiringTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        revoke_token(request.auth)
        user_logged_out.send(
            sender=request.user.__class__, request=request._request, user=request.user
        )
        return Response(status=204)
