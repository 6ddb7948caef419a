"""Correlation ids: adopted when valid, replaced when not, kept apart under concurrency."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIHandler
from django.test import Client

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
