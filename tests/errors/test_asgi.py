"""The ASGI middleware of errors: correlation ids (Channels consumers), error responses, and the
request body limit."""

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

from errors.asgi import BodyLimitMiddleware, CorrelationIdASGIMiddleware, error_response
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
        communicator = ApplicationCommunicator(CorrelationIdASGIMiddleware(echo_app), scope)
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


# --- the body limit ------------------------------------------------------------------------------

LIMIT = 1000


class Reader:
    """An application that reads the whole body, then answers 200 with its length."""

    def __init__(self) -> None:
        self.called = False
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called = True
        size = 0
        while True:
            message = await receive()
            self.messages.append(message)
            if message["type"] != "http.request":
                return  # the client went away: nothing to answer
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


def limited(
    app: Any,
    chunks: list[bytes],
    headers: list[tuple[bytes, bytes]],
    *,
    limit_multipart: bool = False,
) -> tuple[int, dict[str, str], bytes, int]:
    """Run `app` behind the body limit under a plain ASGI driver that hands out `chunks` as the
    body for as long as it is asked; the response's status, headers and body, and how many
    chunks were asked for."""
    scope = {"type": "http", "method": "POST", "path": "/upload", "headers": headers}
    pending = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    async def run() -> None:
        await BodyLimitMiddleware(app, limit_multipart=limit_multipart)(scope, receive, send)

    async_to_sync(run)()
    start, body = sent
    return (
        start["status"],
        {k.decode(): v.decode() for k, v in start["headers"]},
        body["body"],
        len(chunks) - len(pending),
    )


@pytest.fixture
def small_limit(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT


def assert_refused(status: int, headers: dict[str, str], body: bytes, correlation_id: str) -> None:
    assert status == 413
    assert headers["x-correlation-id"] == correlation_id
    assert headers["connection"] == "close"
    assert json.loads(body) == {
        "error": {
            "code": "payload_too_large",
            "message": "Request body too large",
            "correlation_id": correlation_id,
        }
    }


@pytest.mark.usefixtures("small_limit")
def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    json_log: JsonLog,
) -> None:
    app = Reader()
    headers = [(b"content-length", str(LIMIT + 1).encode()), (b"x-correlation-id", b"big-1")]
    status, response_headers, body, taken = limited(app, [b"x" * (LIMIT + 1)], headers)
    assert_refused(status, response_headers, body, "big-1")
    assert (app.called, taken) == (False, 0)
    (line,) = [r for r in json_log.records() if r["logger"] == "errors"]
    assert (line["status_code"], line["error_code"]) == (413, "payload_too_large")
    assert (line["path"], line["correlation_id"]) == ("/upload", "big-1")


@pytest.mark.usefixtures("small_limit")
def test_a_chunked_body_is_refused_once_it_passes_the_limit_and_not_read_on() -> None:
    app = Reader()
    chunks = [b"x" * 400] * 10  # 4,000 bytes; the limit is passed by the third chunk
    status, headers, body, taken = limited(app, chunks, [(b"x-correlation-id", b"big-2")])
    assert_refused(status, headers, body, "big-2")
    assert taken == 3
    # The application was told the client went away, and sent nothing of its own.
    assert app.messages[-1] == {"type": "http.disconnect"}


@pytest.mark.usefixtures("small_limit")
def test_a_refusal_speaks_the_client_s_language_where_the_project_negotiates_one(
    settings: Any, json_log: JsonLog
) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.locale.LocaleMiddleware"]
    settings.LANGUAGES = [("en", "English"), ("fr", "Français")]
    headers = [(b"content-length", b"5000"), (b"accept-language", b"fr-CA, fr;q=0.9")]
    status, response_headers, body, _ = limited(Reader(), [b""], headers)
    assert status == 413
    assert json.loads(body)["error"]["message"] == "Corps de requête trop volumineux"
    assert (response_headers["content-language"], response_headers["vary"]) == (
        "fr",
        "Accept-Language",
    )
    (line,) = [r for r in json_log.records() if r["logger"] == "errors"]
    assert line["error_message"] == "Request body too large"


@pytest.mark.usefixtures("small_limit")
def test_a_refusal_without_a_client_id_gets_a_new_one() -> None:
    headers = [(b"content-length", b"5000"), (b"x-correlation-id", b"bad\nid")]
    status, response_headers, body, _ = limited(Reader(), [b""], headers)
    new_id = response_headers["x-correlation-id"]
    assert uuid.UUID(new_id).version == 4
    assert_refused(status, response_headers, body, new_id)


@pytest.mark.usefixtures("small_limit")
@pytest.mark.parametrize("declared", [True, False])
def test_a_body_of_exactly_the_limit_reaches_the_application(declared: bool) -> None:
    headers = [(b"content-length", str(LIMIT).encode())] if declared else []
    chunks = [b"x" * 500, b"x" * 500]
    status, response_headers, body, _ = limited(Reader(), chunks, headers)
    assert (status, body) == (200, str(LIMIT).encode())
    assert "x-correlation-id" not in response_headers  # the application's own answer


@pytest.mark.usefixtures("small_limit")
@pytest.mark.parametrize(("limit_multipart", "status"), [(False, 200), (True, 413)])
def test_multipart_bodies_are_limited_only_when_asked(limit_multipart: bool, status: int) -> None:
    headers = [(b"content-type", b"multipart/form-data; boundary=x"), (b"content-length", b"1500")]
    answer = limited(Reader(), [b"x" * 1500], headers, limit_multipart=limit_multipart)
    assert answer[0] == status


def test_without_a_limit_every_body_passes(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None
    status, _, body, _ = limited(Reader(), [b"x" * 5000], [(b"content-length", b"5000")])
    assert (status, body) == (200, b"5000")
