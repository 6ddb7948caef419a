"""Management commands run under a correlation id of their own."""

from __future__ import annotations

import uuid
from io import StringIO

from django.core.management import call_command

from errors.context import get_correlation_id, reset_correlation_id, set_correlation_id
from tests.conftest import JsonLog


def run() -> str:
    out = StringIO()
    call_command("log_twice", stdout=out)
    return out.getvalue().strip()


def test_each_run_has_a_fresh_id_shared_by_its_lines(json_log: JsonLog) -> None:
    first, second = run(), run()
    assert uuid.UUID(first).version == 4 and uuid.UUID(second).version == 4
    assert first != second
    lines = [r for r in json_log.records() if r["logger"] == "tests.command"]
    assert [r["correlation_id"] for r in lines] == [first, first, second, second]
    assert get_correlation_id() is None


def test_a_command_called_inside_a_request_keeps_the_requests_id() -> None:
    token = set_correlation_id("outer-request")
    try:
        assert run() == "outer-request"
    finally:
        reset_correlation_id(token)
