"""`manage.py errors_catalog`: the catalog with the endpoints of each code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path
from typing import Any

from django.core.management import call_command

from errors import catalog

REPO_ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def catalog_json() -> list[dict[str, Any]]:
    out = StringIO()
    call_command("errors_catalog", format="json", urlconf="cortex.urls", stdout=out)
    return list(json.loads(out.getvalue()))


def test_every_code_is_listed_with_its_facts() -> None:
    rows = {row["code"]: row for row in catalog_json()}
    assert set(rows) == {entry.code for entry in catalog.entries()}
    conflict = rows["workspace_name_conflict"]
    assert conflict["status"] == 409 and conflict["category"] == "conflict"
    assert conflict["severity"] == "info" and "unique per owner" in conflict["meaning"]
    assert conflict["endpoints"] == [
        "POST /api/workspaces/",
        "PUT /api/workspaces/{workspace_id}/",
        "PATCH /api/workspaces/{workspace_id}/",
    ]
    detail = "/api/workspaces/{workspace_id}/"
    assert rows["not_found"]["endpoints"] == [
        f"{method} {detail}" for method in ("GET", "PUT", "PATCH", "DELETE")
    ]
    assert "POST /api/auth/token/" in rows["rate_limit_exceeded"]["endpoints"]
    assert rows["stream_lagging"]["endpoints"] == []  # the event stream is not in the schema


def test_rows_are_ordered_by_status_then_code() -> None:
    rows = catalog_json()
    keys = [(r["status"], r["code"]) for r in rows]
    assert keys == sorted(keys)


def test_markdown_is_a_table_with_one_row_per_code() -> None:
    out = StringIO()
    call_command("errors_catalog", urlconf="cortex.urls", stdout=out)
    text = out.getvalue()
    assert text.startswith("# Error codes\n")
    assert "| code | status | category | severity | meaning | endpoints |" in text
    for entry in catalog.entries():
        assert f"| `{entry.code}` | {entry.status} | {entry.category} |" in text


def test_the_errors_package_works_without_drf_spectacular() -> None:
    # The standalone project uses `errors` and DRF only; drf_spectacular is made unimportable.
    script = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        sys.modules["drf_spectacular"] = None
        import django
        django.setup()
        import errors
        for module in pkgutil.walk_packages(errors.__path__, "errors."):
            if module.name != "errors.openapi":
                importlib.import_module(module.name)
        from django.core.management import call_command
        call_command("errors_catalog", "--format", "markdown")
        """
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "standalone_settings",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "tests" / "standalone"), str(REPO_ROOT)]),
    }
    result = run("-c", script, env=env)
    assert result.returncode == 0, result.stderr
    assert "| code | status | category | severity | meaning |\n" in result.stdout
    assert "| `not_found` | 404 | not_found | info |" in result.stdout
