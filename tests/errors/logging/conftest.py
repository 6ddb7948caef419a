"""Fixtures shared by the tests of errors.logging."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from errors.context import reset_correlation_id, set_correlation_id
from errors.logging import CorrelationIdFilter, JsonFormatter, RedactingFilter
from tests.errors.logging.helpers import Capture


@pytest.fixture
def capture(request: pytest.FixtureRequest) -> Iterator[Capture]:
    """JSON lines of logger `test.errors.logging.<test name>`, with the id and redact filters."""
    cap = Capture(
        f"test.errors.logging.{request.node.name}",
        JsonFormatter(),
        [CorrelationIdFilter(), RedactingFilter()],
    )
    yield cap
    cap.close()


@pytest.fixture
def correlation_id() -> Iterator[str]:
    """Make "req-123" the current correlation id for the test."""
    token = set_correlation_id("req-123")
    yield "req-123"
    reset_correlation_id(token)
