"""`errors.conf.SETTINGS`: each declared default passes its own check."""

from __future__ import annotations

from pathlib import Path

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


def test_the_readme_lists_every_setting_with_its_default_and_meaning() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Settings of the app", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[0].strip("`"): (cells[1], cells[2])
        for line in section.splitlines()
        if line.startswith("| `ERRORS_")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    assert list(rows) == [s.name for s in SETTINGS]
    for setting in SETTINGS:
        default = setting.default
        shown = f'`"{default}"`' if isinstance(default, str) else f"`{default!r}`"
        assert rows[setting.name] == (shown, setting.meaning), setting.name
