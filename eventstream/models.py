"""A stream ticket: what a browser's EventSource shows instead of a token it cannot send."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class StreamTicket(models.Model):
    """One ticket, issued to `user`, good for one stream opened before `expires_at`.

    Only the ticket's SHA-256 is stored: a copy of this table opens no stream. A row goes away
    when its ticket is used, and expired rows when any new ticket is issued.
    """

    digest = models.CharField(max_length=64, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"stream ticket of user {self.user_id} until {self.expires_at:%H:%M:%S}"
