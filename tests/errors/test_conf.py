"""`errors.conf.SETTINGS`: each declared default passes its own check."""

from __future__ import annotations

import pytest

from errors.conf import SETTINGS, Setting

BY_NAME = {setting.name: setting for setting in SETTINGS}


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.name)
def test_every_default_is_valid(setting: Setting) -> None:
    assert setting.validate(setting.default) is None


@pytest.mark.parametrize("header", ["X-Corrélation-ID", "X-ID²", "X_Correlation_ID", "", "X ID"])
def test_a_correlation_header_is_a_name_django_can_send(header: str) -> None:
    # Django refuses non-ASCII header names on responses, and drops "_" ones from requests.
    assert BY_NAME["ERRORS_CORRELATION_ID_HEADER"].validate(header) is not None
