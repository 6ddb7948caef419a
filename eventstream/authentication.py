"""`?ticket=`: DRF authentication of an event stream by a ticket (see `eventstream.tickets`).

The stream consumer tries it before the project's own authentication classes, so a request
without a ticket is authenticated exactly as before. A ticket is spent as soon as it is shown,
whatever the outcome. It binds the stream to the user it was issued to: a request that also
carries credentials (a token, a session cookie) of another user is refused, so a ticket cannot
be slipped into somebody else's browser to have them watch the wrong stream.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from . import tickets

TICKET_PARAMETER = "ticket"


class TicketAuthentication(BaseAuthentication):
    """The user a `?ticket=` was issued to; None when the request has no ticket."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        ticket = request.query_params.get(TICKET_PARAMETER)
        if ticket is None:
            return None
        try:
            user_id = tickets.redeem(ticket)
        except tickets.TicketRefused as exc:
            raise AuthenticationFailed(str(exc)) from None
        user = get_user_model()._default_manager.filter(pk=user_id, is_active=True).first()
        if user is None:
            raise AuthenticationFailed(gettext("User inactive or deleted."))
        for other in request.authenticators or ():
            if other is self:
                continue
            found = other.authenticate(request)
            if found is not None and getattr(found[0], "pk", None) != user.pk:
                raise AuthenticationFailed(gettext("The ticket was issued to another user."))
        return (user, None)
