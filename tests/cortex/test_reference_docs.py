"""`manage.py reference_docs`: the committed docs/errors.md, settings.md and checks.md are what
the declarations generate."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

from django.core.management import call_command

from cortex.management.commands.reference_docs import NOTICE, REGENERATE

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGES = ("errors.md", "settings.md", "checks.md")


def test_the_committed_reference_pages_are_what_the_declarations_generate(tmp_path: Path) -> None:
    # A fresh process with the service's own settings: exactly what regenerating the pages runs
    # (the test process's catalog may hold codes that tests registered).
    result = subprocess.run(
        [sys.executable, "manage.py", "reference_docs", "--output-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "ENVIRONMENT": "test", "DJANGO_SETTINGS_MODULE": "cortex.settings"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / page) for page in PAGES]
    for page in PAGES:
        committed = REPO_ROOT / "docs" / page
        assert committed.is_file(), f"docs/{page} is missing; create it with `{REGENERATE}`"
        assert (tmp_path / page).read_text(encoding="utf-8") == committed.read_text(
            encoding="utf-8"
        ), f"docs/{page} is out of date; regenerate it with `{REGENERATE}`"


def test_the_errors_page_is_the_catalog_command_s_table_under_the_notice(tmp_path: Path) -> None:
    call_command("reference_docs", output_dir=str(tmp_path), stdout=StringIO())
    out = StringIO()
    call_command("errors_catalog", format="markdown", urlconf="cortex.urls", stdout=out)
    assert (tmp_path / "errors.md").read_text(encoding="utf-8") == f"{NOTICE}\n{out.getvalue()}"


def test_the_settings_and_checks_pages_list_every_declaration(tmp_path: Path) -> None:
    from errors.checks import all_checks
    from errors.conf import SETTINGS

    call_command("reference_docs", output_dir=str(tmp_path), stdout=StringIO())
    settings_page = (tmp_path / "settings.md").read_text(encoding="utf-8")
    checks_page = (tmp_path / "checks.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"| `{setting.name}` |" in settings_page
        assert setting.check_id in settings_page
    assert "| `ERRORS_CORRELATE_COMMANDS` |" in settings_page  # a retired one
    for check_id, level, _ in all_checks():
        assert f"| `{check_id}` | {level} |" in checks_page
