"""`errors.parsers.JSONParser`: hostile JSON is a 400 `parse_error`, never a 500; a body over
DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 `payload_too_large` on every DRF version."""

from __future__ import annotations

import io
import json
import logging
import time
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import RequestDataTooBig
from django.test import Client, override_settings
from django.urls import path
from rest_framework.exceptions import ParseError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from errors.parsers import JSONParser, json_depth


def parse(body: bytes | str, encoding: str | None = None) -> Any:
    raw = body.encode() if isinstance(body, str) else body
    context = {"encoding": encoding} if encoding else {}
    return JSONParser().parse(io.BytesIO(raw), "application/json", context)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


class Echo(APIView):
    """Answers with what it parsed: the parser as a project's views use it."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    parser_classes = [JSONParser]

    def post(self, request: Request) -> Response:
        return Response({"data": request.data})


urlpatterns = [path("echo/", Echo.as_view())]


@pytest.fixture(autouse=True)
def _echo_urls(settings: Any) -> None:
    settings.ROOT_URLCONF = __name__


def post(body: str, content_type: str = "application/json") -> Any:
    # generic(): post() would encode the body in the declared charset itself.
    return Client().generic("POST", "/echo/", body.encode(), content_type=content_type)


# --- what a client sees ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (nested(65), "JSON parse error - nested more than 64 levels deep"),
        (nested(30_000), "JSON parse error - nested more than 64 levels deep"),
        ('{"a":' * 300 + "1" + "}" * 300, "JSON parse error - nested more than 64 levels deep"),
        ('{"n": NaN}', "JSON parse error - NaN is not a JSON value"),
        ("[Infinity]", "JSON parse error - Infinity is not a JSON value"),
        ("[-Infinity]", "JSON parse error - -Infinity is not a JSON value"),
        ("[" + "9" * 5000 + "]", "JSON parse error - a number has too many digits"),
    ],
    ids=["65-levels", "30000-levels", "300-objects", "nan", "infinity", "-infinity", "5000-digits"],
)
def test_hostile_documents_are_400_parse_error(body: str, message: str) -> None:
    response = post(body)
    assert response.status_code == 400
    error = json.loads(response.content)["error"]
    assert error["code"] == "parse_error"
    assert error["message"] == message


def test_a_document_at_the_depth_limit_is_parsed() -> None:
    response = post(nested(64))
    assert response.status_code == 200
    data = json.loads(response.content)["data"]
    for _ in range(63):
        assert isinstance(data, list) and len(data) == 1
        data = data[0]
    assert data == []


@override_settings(ERRORS_JSON_MAX_DEPTH=2)
def test_the_limit_is_a_setting() -> None:
    assert post('{"a": [1]}').status_code == 200
    response = post('{"a": [[1]]}')
    assert response.status_code == 400
    assert json.loads(response.content)["error"]["message"] == (
        "JSON parse error - nested more than 2 levels deep"
    )


@override_settings(ERRORS_JSON_MAX_DEPTH=1_000_000)
def test_a_limit_beyond_the_interpreters_stack_is_still_a_400() -> None:
    response = post(nested(30_000))
    assert response.status_code == 400
    assert json.loads(response.content)["error"]["message"] == (
        "JSON parse error - nested too deeply"
    )


def test_a_charset_that_is_no_text_encoding_is_400() -> None:
    # bz2_codec is a codec Python knows, bytes to bytes: decoding would inflate a small body.
    response = post('{"a": 1}', content_type="application/json; charset=bz2_codec")
    assert response.status_code == 400
    error = json.loads(response.content)["error"]
    assert (error["code"], error["message"]) == (
        "parse_error",
        "Unsupported charset in the Content-Type header.",
    )


def test_bytes_that_are_not_the_declared_charset_are_400() -> None:
    with pytest.raises(ParseError, match="JSON parse error - 'utf-8' codec can't decode"):
        parse(b'{"a": "\xff"}')


# --- what it keeps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"a": [1, 2.5, "x", true, null]}', {"a": [1, 2.5, "x", True, None]}),
        ('"' + "[" * 100 + '"', "[" * 100),
        ('{"s": "\\"[[[["}', {"s": '"[[[['}),
        ('{"big": 123456789012345678901234567890}', {"big": 123456789012345678901234567890}),
        # Surrogates and NUL are JSON; whether a field can store them is the serializer's call.
        ('{"k": "\\u0000\\ud800"}', {"k": "\x00\ud800"}),
        ('{"x": 1e400}', {"x": float("inf")}),
    ],
    ids=["plain", "brackets-in-a-string", "escaped-quote", "big-int", "nul-surrogate", "1e400"],
)
def test_valid_json_parses_as_python_would(body: str, expected: Any) -> None:
    assert parse(body) == expected


def test_the_declared_charset_is_used() -> None:
    assert parse('{"é": "ü"}'.encode("utf-16"), encoding="utf-16") == {"é": "ü"}


# --- json_depth ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[{"', 0),
        ("[]", 1),
        ('{"a": [{"b": []}]}', 4),
        ("[[], [[]], []]", 3),
        ('["\\\\", ["]"]]', 2),
        ('["\\"[[["]', 1),
        (nested(10_000), 10_000),
    ],
)
def test_json_depth(text: str, depth: int) -> None:
    assert json_depth(text) == depth


def test_depth_is_measured_in_linear_time_even_for_unterminated_strings() -> None:
    # A regex retried from every quote would take minutes on this; the scan takes milliseconds.
    text = '["' + '\\"' * 500_000 + "[" * 10
    started = time.monotonic()
    json_depth(text)
    assert time.monotonic() - started < 2.0


# --- a body over DATA_UPLOAD_MAX_MEMORY_SIZE -------------------------------------------------


BIG_NAME = "x" * (70 * 1024)  # over the 64 KiB of tests/settings.py


def over_the_limit() -> str:
    return json.dumps({"name": BIG_NAME})


@pytest.mark.parametrize("middleware", ["with", "without"])
def test_a_body_over_the_limit_is_413_payload_too_large(
    middleware: str, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # errors.middleware refuses it by its Content-Length before any view; without the middleware
    # (a project that uses the DRF exception handler alone) the parser does, on every DRF:
    # DRF 3.16 hands it the raw stream, which Django does not check.
    if middleware == "without":
        settings.MIDDLEWARE = [
            m for m in settings.MIDDLEWARE if m != "errors.middleware.CorrelationIdMiddleware"
        ]
    with caplog.at_level(logging.DEBUG):
        response = post(over_the_limit())
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {
            "code": "payload_too_large",
            "message": "Request body too large",
            "correlation_id": response["X-Correlation-ID"],
        }
    }
    (line,) = [r for r in caplog.records if r.name == "errors"]
    assert line.levelno == logging.WARNING
    assert line.getMessage() == "POST /echo/ -> 413 payload_too_large"


def test_a_body_of_exactly_the_limit_is_parsed(settings: Any) -> None:
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "errors.middleware.CorrelationIdMiddleware"
    ]
    padding = settings.DATA_UPLOAD_MAX_MEMORY_SIZE - len(json.dumps({"name": ""}))
    body = json.dumps({"name": "x" * padding})
    assert len(body) == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = post(body)
    assert response.status_code == 200
    assert len(response.json()["data"]["name"]) == padding


class CountingStream(io.BytesIO):
    """A body that counts the bytes the parser took from it."""

    taken = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk


def test_the_parser_reads_no_more_than_one_byte_past_the_limit() -> None:
    limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    stream = CountingStream(b"[" + b"1," * (4 * limit) + b"1]")
    with pytest.raises(RequestDataTooBig):
        JSONParser().parse(stream, "application/json", {})
    assert stream.taken == limit + 1


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=None)
def test_without_a_limit_any_body_is_parsed() -> None:
    assert parse(over_the_limit()) == {"name": BIG_NAME}
