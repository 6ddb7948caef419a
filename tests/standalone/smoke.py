"""Run the standalone project in-process and print a JSON summary of what happened.

tests/test_packaging.py runs this from a copy of this directory, with only the installed wheel
(and the interpreter's own site-packages) on sys.path; the summary is the last line of stdout.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
from typing import Any

import django
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

CORRELATION_ID = "standalone-corr-0001"


def _describe(response: Any) -> dict[str, Any]:
    return {
        "status": response.status_code,
        "content_type": response.get("Content-Type"),
        "correlation_id": response.get("X-Correlation-ID"),
        "body": response.content.decode("utf-8", "replace"),
    }


def _run_checks() -> dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    failure = None
    try:
        call_command("check", stdout=out, stderr=err)
    except SystemCheckError as exc:
        failure = str(exc)
    messages = checks.run_checks()
    return {
        "failure": failure,
        "output": out.getvalue() + err.getvalue(),
        "messages": [
            {"id": m.id, "level": m.level, "serious": m.is_serious(), "msg": str(m.msg)}
            for m in messages
        ],
    }


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "standalone_settings"
    django.setup()

    import errors

    checks_result = _run_checks()
    client = Client()
    responses = {
        "widget": client.get("/widgets/7/", headers={"X-Correlation-ID": CORRELATION_ID}),
        "no_route": client.get("/no/such/page/"),
        "crash": client.get("/crash/"),
    }
    summary = {
        "errors_file": errors.__file__,
        "sys_path": sys.path,
        "other_packages": {
            name: getattr(importlib.util.find_spec(name), "origin", None)
            for name in ("cortex", "workspaces", "tests")
        },
        "checks": checks_result,
        "sent_correlation_id": CORRELATION_ID,
        "responses": {name: _describe(response) for name, response in responses.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
