"""`errors.conf`: each setting declared once, read when first needed and again after it changes
(tests/cortex/test_reference_docs.py keeps docs/settings.md equal to the declarations)."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
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


def test_values_are_read_when_needed_and_converted() -> None:
    assert errors_settings.request_log_level == 10  # "DEBUG", the default
    assert errors_settings.queue_exempt_paths == ("/healthz", "/metrics")
    project_integrations = errors_settings.integrations
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
    # Once the override ends, the project's values are read again.
    assert errors_settings.request_log_level == 10
    assert errors_settings.queue_timeout == 5.0
    assert errors_settings.integrations == project_integrations


def test_a_value_is_kept_until_a_setting_changes() -> None:
    assert errors_settings.problem_type_base == "/api/errors/"
    # Written straight into the settings, past Django's signal: the kept value stands.
    django_settings.ERRORS_PROBLEM_TYPE_BASE = "/changed/"
    try:
        assert errors_settings.problem_type_base == "/api/errors/"
        # Any ERRORS_* setting changing through Django's signal makes every one read again.
        with override_settings(ERRORS_ALERT_THRESHOLD=3):
            assert errors_settings.problem_type_base == "/changed/"
            assert errors_settings.alert_threshold == 3
    finally:
        delattr(django_settings, "ERRORS_PROBLEM_TYPE_BASE")
    with override_settings(ERRORS_ALERT_THRESHOLD=4):
        assert errors_settings.problem_type_base == "/api/errors/"
