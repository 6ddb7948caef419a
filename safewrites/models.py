"""The idempotency store: the first answer to each (caller, Idempotency-Key)."""

from __future__ import annotations

from django.db import models

KEY_MAX_LENGTH = 255


class IdempotencyRecord(models.Model):
    """One key of one caller: its request's fingerprint, then the answer to replay."""

    scope = models.CharField(max_length=64)  # the caller: the user's primary key
    key = models.CharField(max_length=KEY_MAX_LENGTH)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path and body
    created_at = models.DateTimeField()
    # While the first request runs: who holds the key, and until when before another may.
    lock_token = models.CharField(max_length=32, blank=True)
    locked_until = models.DateTimeField(null=True)
    # The answer, once complete (status None: still running).
    status = models.PositiveSmallIntegerField(null=True)
    headers = models.JSONField(default=dict)
    body = models.BinaryField(default=b"")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="safewrites_scope_key_unique")
        ]
        indexes = [models.Index(fields=["created_at"], name="safewrites_created_idx")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"
