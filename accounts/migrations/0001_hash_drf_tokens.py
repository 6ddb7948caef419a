"""Existing DRF authtoken tokens become knox tokens: hashed, with the plaintext keys deleted.

Until this release the service used `rest_framework.authtoken`, which keeps each key in plain
text (table `authtoken_token`). Each key still valid is stored by its hash in knox's table,
expiring TOKEN_TTL seconds after it was issued as before, so clients keep working; then every
row of the old table is deleted. A database that never had that table is left alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import migrations
from django.utils import timezone
from django.utils.dateparse import parse_datetime

LEGACY_TABLE = "authtoken_token"


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        value = parse_datetime(str(value))
    if value is None:
        return None
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def hash_drf_tokens(apps: Any, schema_editor: Any) -> None:
    from knox.crypto import hash_token
    from knox.settings import CONSTANTS

    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    table = schema_editor.quote_name(LEGACY_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {schema_editor.quote_name('key')}, user_id, created FROM {table}")
        rows = cursor.fetchall()
    token_model = apps.get_model("knox", "AuthToken")
    ttl = timedelta(seconds=settings.TOKEN_TTL)
    now = timezone.now()
    for key, user_id, created_value in rows:
        created = _aware(created_value)
        if created is None or created + ttl <= now:
            continue
        digest = hash_token(key)
        token_model.objects.create(
            digest=digest,
            token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH],
            user_id=user_id,
            expiry=created + ttl,
        )
        # `created` is auto_now_add: set after the insert, as it was.
        token_model.objects.filter(digest=digest).update(created=created)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")


class Migration(migrations.Migration):
    dependencies = [
        ("knox", "0009_extend_authtoken_field"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(hash_drf_tokens, migrations.RunPython.noop)]
