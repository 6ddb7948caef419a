"""Correlation ids: adopted when valid, replaced when not, kept apart under concurrency."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import AsyncClient, Client, RequestFactory, override_settings

from errors.middleware import SyncAndAsyncMiddleware
from tests.conftest import JsonLog

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "value",
    [
        "abc\r\nSet-Cookie: x=1",
        "x" * 10_000,
        "x" * 129,
        "caf\u00e9-\u65e5\u672c",
        "",
        "has space",
        "semi;colon",
    ],
    ids=["crlf", "10kB", "129-chars", "non-ascii", "empty", "space", "semicolon"],
)
def test_bad_ids_are_replaced_and_never_echoed(value: str, json_log: JsonLog) -> None:
    environ_value = value.encode("utf-8").decode("latin-1")
    response = Client().get("/t/drf/raise/drf_not_found", HTTP_X_CORRELATION_ID=environ_value)
    returned = response["X-Correlation-ID"]
    assert uuid.UUID(returned).version == 4
    assert response.json()["error"]["correlation_id"] == returned
    assert value not in response.content.decode() or value == ""
    logged = json_log.stream.getvalue()
    if value:
        assert environ_value not in logged and value not in logged
    assert all(r["correlation_id"] == returned for r in json_log.records())


@pytest.mark.parametrize("value", ["a", "x" * 128, "req_1.2:3-4", str(uuid.uuid4())])
def test_good_ids_are_adopted(value: str, client: Client) -> None:
    response = client.get("/t/drf/ok", headers={"X-Correlation-ID": value})
    assert response["X-Correlation-ID"] == value


def test_a_new_id_per_request_without_a_header(client: Client) -> None:
    first = client.get("/t/drf/ok")["X-Correlation-ID"]
    second = client.get("/t/drf/ok")["X-Correlation-ID"]
    assert first != second


def test_the_header_name_is_configurable(settings: Any) -> None:
    settings.ERRORS_CORRELATION_ID_HEADER = "X-Request-ID"
    response = Client().get("/t/drf/ok", headers={"X-Request-ID": "custom-1"})
    assert response["X-Request-ID"] == "custom-1"
    assert response.json()["correlation_id"] == "custom-1"


def _scope(path: str, correlation_id: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"x-correlation-id", correlation_id.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def _call(app: Any, path: str, correlation_id: str) -> tuple[int, dict[str, str], bytes]:
    communicator = ApplicationCommunicator(app, _scope(path, correlation_id))
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(timeout=30)
    chunks = []
    while True:
        message = await communicator.receive_output(timeout=30)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    await communicator.wait(timeout=5)
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(chunks)


def test_200_concurrent_requests_through_the_asgi_app_keep_their_own_ids(
    json_log: JsonLog,
) -> None:
    app = ASGIHandler()  # get_asgi_application() would set logging up again
    paths = ["/t/async/echo", "/t/drf/raise/drf_not_found", "/t/drf/ok", "/no/such/url"]
    requests = [(paths[i % len(paths)], f"concurrent-{i:03d}") for i in range(200)]

    async def run_all() -> list[tuple[int, dict[str, str], bytes]]:
        return await asyncio.gather(*(_call(app, path, cid) for path, cid in requests))

    results = async_to_sync(run_all)()

    for (path, cid), (status, headers, body) in zip(requests, results, strict=True):
        assert headers["x-correlation-id"] == cid
        data = json.loads(body)
        seen = data["error"]["correlation_id"] if status >= 400 else data["correlation_id"]
        assert seen == cid, (path, status)

    by_id: dict[str, list[dict[str, Any]]] = {}
    for record in json_log.records():
        by_id.setdefault(record["correlation_id"], []).append(record)
    for path, cid in requests:
        lines = by_id.pop(cid)
        assert any(line["logger"] == "errors.request" for line in lines), cid
        if path in ("/t/async/echo", "/t/drf/ok"):
            assert any(line["message"].startswith("inside") for line in lines), cid
        else:
            assert any(line["logger"] == "errors" for line in lines), cid
    # No line was logged under an id of no request (or under none at all).
    assert by_id == {}


def test_streaming_responses_carry_the_id(client: Client) -> None:
    response = client.get("/t/plain/streaming", headers={"X-Correlation-ID": "stream-1"})
    assert response.status_code == 200
    assert response.getvalue() == b"one\ntwo\n"
    assert response["X-Correlation-ID"] == "stream-1"


def test_cors_exposes_the_correlation_id(settings: Any, client: Client) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]
    for path in ("/t/drf/ok", "/no/such/url"):
        response = client.get(path, headers={"Origin": "https://app.example"})
        assert response["Access-Control-Allow-Origin"] == "https://app.example"
        exposed = {h.strip().lower() for h in response["Access-Control-Expose-Headers"].split(",")}
        assert "x-correlation-id" in exposed


def test_generated_ids_are_distinct_uuid4s() -> None:
    from errors.context import new_correlation_id

    ids = [new_correlation_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for value in ids[:100]:
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == value


# --- SyncAndAsyncMiddleware: `call` under a sync handler, `acall` under an async one, and a
# coroutine function only in the second case (so Django adds no thread hop) ----------------------


class ModeHeaderMiddleware(SyncAndAsyncMiddleware):
    """Says in a response header which of its methods served the request, and on which thread."""

    def call(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response["X-Served-By"] = "call"
        return response

    async def acall(self, request: HttpRequest) -> HttpResponseBase:
        response = await self.get_response(request)
        response["X-Served-By"] = "acall"
        # The event loop's own thread: no hop to a worker thread on the way in.
        response["X-Thread"] = str(threading.get_ident())
        return response


WITH_MODE_HEADER = override_settings(
    MIDDLEWARE=["tests.errors.test_middleware.ModeHeaderMiddleware", *settings.MIDDLEWARE]
)


def sync_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("sync")


async def async_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async")


def plain_request() -> HttpRequest:
    return RequestFactory().get("/anything")


def test_both_modes_are_declared() -> None:
    assert SyncAndAsyncMiddleware.sync_capable is True
    assert SyncAndAsyncMiddleware.async_capable is True


def test_around_a_sync_handler_it_runs_call_and_is_no_coroutine_function() -> None:
    middleware = ModeHeaderMiddleware(sync_view)
    assert not iscoroutinefunction(middleware)
    response = middleware(plain_request())
    assert isinstance(response, HttpResponse)
    assert response["X-Served-By"] == "call"
    assert response.content == b"sync"


def test_around_an_async_handler_it_runs_acall_and_is_a_coroutine_function() -> None:
    middleware = ModeHeaderMiddleware(async_view)
    assert iscoroutinefunction(middleware)

    async def serve() -> tuple[HttpResponseBase, int]:
        return await middleware(plain_request()), threading.get_ident()

    response, loop_thread = async_to_sync(serve)()
    assert isinstance(response, HttpResponse)
    assert response["X-Served-By"] == "acall"
    assert response["X-Thread"] == str(loop_thread)
    assert response.content == b"async"


@pytest.mark.parametrize("view", [sync_view, async_view])
def test_a_subclass_must_implement_the_method_of_its_mode(view: Any) -> None:
    middleware = SyncAndAsyncMiddleware(view)
    if iscoroutinefunction(middleware):
        with pytest.raises(NotImplementedError):
            async_to_sync(middleware)(plain_request())
    else:
        with pytest.raises(NotImplementedError):
            middleware(plain_request())


@WITH_MODE_HEADER
def test_in_the_service_under_wsgi_call_serves_the_request() -> None:
    response = Client().get("/t/drf/ok")
    assert response.status_code == 200
    assert response["X-Served-By"] == "call"


@WITH_MODE_HEADER
def test_in_the_service_under_asgi_acall_serves_the_request() -> None:
    async def fetch() -> tuple[Any, int]:
        return await AsyncClient().get("/t/drf/ok"), threading.get_ident()

    response, loop_thread = async_to_sync(fetch)()
    assert response.status_code == 200
    assert response["X-Served-By"] == "acall"
    assert response["X-Thread"] == str(loop_thread)
