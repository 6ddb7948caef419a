"""`manage.py purge_idempotency_keys`: delete the keys older than SAFEWRITES_IDEMPOTENCY_TTL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from safewrites.idempotency import ttl
from safewrites.models import IdempotencyRecord


class Command(BaseCommand):
    help = "Delete the stored Idempotency-Key answers older than SAFEWRITES_IDEMPOTENCY_TTL."

    def handle(self, *args: Any, **options: Any) -> None:
        cutoff = timezone.now() - timedelta(seconds=ttl())
        deleted, _ = IdempotencyRecord.objects.filter(created_at__lte=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} expired idempotency keys.")
