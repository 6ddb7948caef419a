"""`errors.conf`: each setting declared once, read on access (tests/cortex/test_reference_docs.py
keeps docs/settings.md equal to the declarations)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from errors.conf import RETIRED, SETTINGS, Setting, errors_settings

BY_NAME = {setting.name: setting for setting in SETTINGS}


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.name)
def test_every_default_is_valid(setting: Setting[object]) -> None:
    assert setting.validate(setting.default) is None


@pytest.mark.parametrize("header", ["X-Corrélation-ID", "X-ID²", "X_Correlation_ID", "", "X ID"])
def test_a_correlation_header_is_a_name_django_can_send(header: str) -> None:
    # Django refuses non-ASCII header names on responses, and drops "_" ones from requests.
    assert BY_NAME["ERRORS_CORRELATION_ID_HEADER"].validate(header) is not None


def test_names_and_check_ids_are_unique_and_never_reused() -> None:
    names = [s.name for s in SETTINGS] + [r.name for r in RETIRED]
    ids = [s.check_id for s in SETTINGS] + [r.check_id for r in RETIRED]
    assert len(set(names)) == len(names)
    assert len(set(ids)) == len(ids)


def test_values_are_read_on_access_and_converted() -> None:
    assert errors_settings.request_log_level == 10  # "DEBUG", the default
    assert errors_settings.queue_exempt_paths == ("/healthz", "/metrics")
    with override_settings(
        ERRORS_REQUEST_LOG_LEVEL="warning",
        ERRORS_QUEUE_TIMEOUT=2,
        ERRORS_METRICS_ALLOWED_NETWORKS=["10.0.0.0/8"],
        ERRORS_INTEGRATIONS=["httpx"],
    ):
        assert errors_settings.request_log_level == 30
        assert errors_settings.queue_timeout == 2.0
        assert [str(n) for n in errors_settings.metrics_allowed_networks] == ["10.0.0.0/8"]
        assert errors_settings.integrations == ("httpx",)
