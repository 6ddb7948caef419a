"""`eventstream.conf`: each setting's default, read at the moment it is needed."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from cortex import redis_guard
from eventstream import guard
from eventstream.conf import stream_settings

DEFAULTS = [
    ("SSE_HEARTBEAT_SECONDS", "heartbeat_seconds", 15),
    ("SSE_RETRY_MS", "retry_ms", 3000),
    ("SSE_QUEUE_SIZE", "queue_size", 64),
    ("SSE_REPLAY_BUFFER_SIZE", "replay_buffer_size", 100),
    ("SSE_MAX_STREAMS_PER_USER", "max_streams_per_user", 8),
    ("REDIS_URL", "redis_url", None),
    ("REDIS_TIMEOUT", "redis_timeout", 1.0),
]


@pytest.mark.parametrize(("name", "attribute", "default"), DEFAULTS)
def test_each_setting_has_its_default_and_follows_the_settings(
    name: str, attribute: str, default: Any, settings: Any
) -> None:
    delattr(settings, name)
    assert getattr(stream_settings, attribute) == default
    changed = "redis://example:6379/0" if name == "REDIS_URL" else 7
    setattr(settings, name, changed)
    assert getattr(stream_settings, attribute) == changed


def test_the_service_guards_redis_and_sends_its_security_headers() -> None:
    assert stream_settings.guard is redis_guard
    assert (b"x-content-type-options", b"nosniff") in stream_settings.response_headers()


def test_without_a_guard_or_headers_the_app_adds_nothing(settings: Any) -> None:
    del settings.SSE_GUARD, settings.SSE_RESPONSE_HEADERS
    assert stream_settings.guard is guard
    assert stream_settings.response_headers() == []


@override_settings(SSE_GUARD="cortex.no_such_guard")
def test_a_path_that_cannot_be_imported_names_the_setting() -> None:
    with pytest.raises(ImproperlyConfigured, match="SSE_GUARD = 'cortex.no_such_guard'"):
        _ = stream_settings.guard
