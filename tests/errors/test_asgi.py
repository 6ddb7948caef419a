"""The ASGI correlation-id middleware (for Channels consumers) and ASGI error responses."""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.signals import got_request_exception
from rest_framework.exceptions import NotAuthenticated

from errors.asgi import CorrelationIdMiddleware, error_response
from errors.context import get_correlation_id
from tests.conftest import JsonLog


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    """Answers with the correlation id it sees in the context and in the scope."""
    await receive()
    body = json.dumps({"context": get_correlation_id(), "scope": scope["correlation_id"]})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
    await send({"type": "http.response.body", "body": body.encode()})


def call(headers: list[tuple[bytes, bytes]]) -> tuple[dict[str, str], dict[str, Any]]:
    async def run() -> tuple[dict[str, str], dict[str, Any]]:
        scope = {"type": "http", "method": "GET", "path": "/x", "headers": headers}
        communicator = ApplicationCommunicator(CorrelationIdMiddleware(echo_app), scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(5)
        body = await communicator.receive_output(5)
        await communicator.wait(5)
        return (
            {k.decode(): v.decode() for k, v in start["headers"]},
            json.loads(body["body"]),
        )

    return async_to_sync(run)()


def test_a_valid_id_is_adopted_everywhere() -> None:
    headers, body = call([(b"x-correlation-id", b"asgi-1")])
    assert headers == {"x-a": "1", "x-correlation-id": "asgi-1"}
    assert body == {"context": "asgi-1", "scope": "asgi-1"}


@pytest.mark.parametrize("raw", [b"bad\r\nvalue", b"x" * 200, b"", "caf\u00e9".encode()])
def test_a_bad_id_is_replaced(raw: bytes) -> None:
    headers, body = call([(b"x-correlation-id", raw)])
    new_id = headers["x-correlation-id"]
    assert uuid.UUID(new_id).version == 4
    assert body == {"context": new_id, "scope": new_id}


def test_the_id_does_not_leak_out_of_the_connection() -> None:
    call([(b"x-correlation-id", b"inside")])
    assert get_correlation_id() is None


def test_error_response_is_the_envelope_and_logged_once(json_log: JsonLog) -> None:
    exc = NotAuthenticated()
    exc.auth_header = "Token"  # type: ignore[attr-defined]
    status, headers, body = error_response(exc, {"method": "GET", "path": "/api/events/"}, "err-1")
    assert status == 401
    assert (b"www-authenticate", b"Token") in headers
    assert (b"content-type", b"application/json") in headers
    assert json.loads(body) == {
        "error": {
            "code": "authentication_error",
            "message": "Authentication credentials were not provided.",
            "correlation_id": "err-1",
        }
    }
    (line,) = [r for r in json_log.records() if r["logger"] == "errors"]
    assert (line["status_code"], line["path"]) == (401, "/api/events/")


def test_a_5xx_error_response_is_told_to_got_request_exception_once() -> None:
    sent: list[BaseException | None] = []

    def receiver(sender: Any, request: Any = None, **kwargs: Any) -> None:
        sent.append(sys.exc_info()[1])

    got_request_exception.connect(receiver, dispatch_uid="test.asgi.signal")
    try:
        failure = RuntimeError("layer down")
        error_response(failure, {"method": "GET", "path": "/api/events/"}, "err-5")
        error_response(NotAuthenticated(), {"method": "GET", "path": "/api/events/"}, "err-4")
    finally:
        got_request_exception.disconnect(dispatch_uid="test.asgi.signal")
    assert sent == [failure]
