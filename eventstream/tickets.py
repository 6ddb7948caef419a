"""Stream tickets: single-use, short-lived stand-ins for a token in an event stream's URL.

A browser's `EventSource` cannot send an `Authorization` header, and a token in a URL would end up
in proxies' logs, browser history and Referer headers for as long as it lives. So a client asks
for a ticket with its token (`POST /api/events/tickets/`) and opens the stream with
`?ticket=…`. A ticket:

- is 256 random bits, of which only the SHA-256 is stored (`StreamTicket`);
- works once: redeeming deletes its row, and of two concurrent redemptions only the one whose
  DELETE removed the row wins (the database decides, so it holds across processes);
- works for SSE_TICKET_TTL_SECONDS (at most 60 s) after it was issued;
- opens the stream of the user it was issued to, and no other: a request that carries a ticket
  and credentials of somebody else is refused (`eventstream.authentication`).

The table holds live tickets only: each new ticket deletes the expired ones (indexed).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext

from .conf import stream_settings
from .models import StreamTicket

# What a ticket looks like (secrets.token_urlsafe(32)): anything else is refused unhashed.
TICKET_LENGTH = 43
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    ticket: str
    expires_at: datetime


class TicketRefused(Exception):
    """The ticket opens nothing; the message says why, in words fit for the client."""


def issue(user_id: int) -> IssuedTicket:
    """A new ticket for `user_id`, valid for SSE_TICKET_TTL_SECONDS."""
    now = timezone.now()
    StreamTicket.objects.filter(expires_at__lte=now).delete()
    ticket = secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=stream_settings.ticket_ttl_seconds)
    StreamTicket.objects.create(digest=_digest(ticket), user_id=user_id, expires_at=expires_at)
    return IssuedTicket(ticket, expires_at)


def redeem(ticket: str) -> int:
    """The id of the user the ticket was issued to; the ticket is spent from then on.

    Raises TicketRefused for a ticket that was never issued, was used already or has expired.
    """
    if len(ticket) != TICKET_LENGTH or not _ALPHABET.issuperset(ticket):
        raise TicketRefused(gettext("Invalid ticket."))
    digest = _digest(ticket)
    row = StreamTicket.objects.filter(digest=digest).values_list("user_id", "expires_at").first()
    deleted, _ = StreamTicket.objects.filter(digest=digest).delete()
    if row is None or not deleted:  # never issued, used already, or used just now by another
        raise TicketRefused(gettext("Invalid ticket; it may have been used already."))
    user_id, expires_at = row
    if expires_at <= timezone.now():
        raise TicketRefused(gettext("Ticket has expired."))
    return int(user_id)


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("ascii")).hexdigest()
