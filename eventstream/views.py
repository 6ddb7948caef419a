"""`POST /api/events/tickets/`: a ticket to open an event stream with (`eventstream.tickets`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import tickets


class TicketOutput(serializers.Serializer[Any]):
    ticket = serializers.CharField(
        help_text="Open the stream with `GET /api/events/?ticket=<ticket>`; it works once."
    )
    expires_at = serializers.DateTimeField(help_text="The ticket opens nothing after this.")


class TicketView(APIView):
    """Issue a single-use ticket that opens the caller's event stream (for `EventSource`, which
    cannot send an `Authorization` header)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={201: TicketOutput})
    def post(self, request: Request) -> Response:
        issued = tickets.issue(request.user.pk)  # type: ignore[arg-type]  # authenticated
        body = TicketOutput({"ticket": issued.ticket, "expires_at": issued.expires_at}).data
        # A credential: no cache, shared or private, may keep it.
        return Response(body, status=201, headers={"Cache-Control": "no-store"})
