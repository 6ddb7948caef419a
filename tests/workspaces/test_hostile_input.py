"""Hostile input to the workspaces API: every answer is a 4xx with the envelope, never a 5xx.

Bodies nested without end, strings no database stores (NUL, unpaired surrogates) anywhere in a
document, numbers beyond what a field or the event stream holds, weird header values and query
parameters. The table-driven tests run on whichever database the suite runs on (CI: PostgreSQL,
then SQLite); the property-based tests at the end generate such bodies with Hypothesis and need
PostgreSQL, whose refusals (NUL in text and jsonb) SQLite would never show.

The property tests use Django's test client rather than a daphne process: in-process, a request
costs about a millisecond, so hundreds of examples fit in seconds; a 5xx reaches the test as the
exception itself (the client re-raises what the handler reported) and Hypothesis shrinks the body
that caused it. The bytes of a body reach the same parser either way; what daphne (Twisted) adds
is its own parsing of the request line and headers, which `tests/test_fuzz.py` and the daphne
tests of this module exercise.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.support.accounts import make_accounts
from tests.support.servers import DaphneServer
from workspaces.models import Workspace
from workspaces.validators import INT64_MAX, INT64_MIN

LIST = "/api/workspaces/"
NUL = "Null characters are not allowed."
NUMBER = f"Ensure this number is between {INT64_MIN} and {INT64_MAX}."
TOO_DEEP = "JSON parse error - nested more than 64 levels deep"


def detail(workspace_id: Any) -> str:
    return f"/api/workspaces/{workspace_id}/"


def error_of(response: Any) -> dict[str, Any]:
    """The `error` of an envelope (failing the test if the body is not one)."""
    assert response["Content-Type"] == "application/json", response.content[:200]
    body = json.loads(response.content)
    assert set(body) == {"error"}, body
    assert body["error"]["correlation_id"] == response["X-Correlation-ID"]
    return dict(body["error"])


def send(
    api: APIClient,
    method: str,
    path: str,
    body: str | bytes,
    content_type: str = "application/json",
    **headers: Any,
) -> Any:
    """`body` as the request's bytes, as they are (the client would re-encode a str)."""
    raw: Any = body.encode() if isinstance(body, str) else body
    return api.generic(method, path, raw, content_type=content_type, **headers)


def nested(depth: int, inner: str = "1") -> str:
    return '{"a":' * depth + inner + "}" * depth


@pytest.fixture
def workspace(api: APIClient) -> dict[str, Any]:
    response = api.post(LIST, {"name": "Target", "metadata": {"keep": "me"}}, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


# --- any nesting depth -----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [64, 300, 10_000])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_body_nested_too_deeply_is_400_parse_error(
    api: APIClient, workspace: dict[str, Any], method: str, depth: int
) -> None:
    path = LIST if method == "POST" else detail(workspace["id"])
    response = send(api, method, path, '{"name": "Deep", "metadata": ' + nested(depth) + "}")
    assert response.status_code == 400
    assert error_of(response)["message"] == TOO_DEEP
    assert error_of(response)["code"] == "parse_error"
    assert Workspace.objects.get(id=workspace["id"]).metadata == {"keep": "me"}


@pytest.mark.django_db
def test_the_deepest_body_taken_is_stored_and_read_back(api: APIClient) -> None:
    # 64 levels: the body, 61 objects "a", the object "leaf" and its list.
    body = '{"name": "Deepest", "metadata": ' + nested(61, '{"leaf": [1]}') + "}"
    response = send(api, "POST", LIST, body)
    assert response.status_code == 201, response.content
    stored = api.get(detail(response.json()["id"])).json()["metadata"]
    for _ in range(61):
        stored = stored["a"]
    assert stored == {"leaf": [1]}


@pytest.mark.django_db
def test_metadata_deeper_than_the_event_stream_writes_is_400_whatever_the_parser_allows(
    api: APIClient, settings: Any
) -> None:
    settings.ERRORS_JSON_MAX_DEPTH = 1000  # a project may allow more than orjson's 255 levels
    response = send(api, "POST", LIST, '{"name": "Deep", "metadata": ' + nested(300) + "}")
    assert response.status_code == 400, response.content
    assert error_of(response)["details"] == {
        "field_errors": {"metadata": ["Must be nested less deeply."]}
    }


@pytest.mark.django_db
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_400_parse_error(api: APIClient, literal: str) -> None:
    response = send(api, "POST", LIST, '{"name": "N", "metadata": {"n": ' + literal + "}}")
    assert response.status_code == 400
    assert error_of(response) | {"correlation_id": ""} == {
        "code": "parse_error",
        "message": f"JSON parse error - {literal} is not a JSON value",
        "correlation_id": "",
    }


# --- strings no database stores, anywhere ----------------------------------------------------

SURROGATE = "Surrogate characters are not allowed: U+D800."

# Raw JSON text, so that the escapes reach the server as a client sends them.
UNSTORABLE_STRINGS = [
    ('"name": "a\\u0000b"', {"name": [NUL]}),
    ('"name": "\\ud800"', {"name": [SURROGATE]}),
    ('"name": "ok", "description": "x\\u0000"', {"description": [NUL]}),
    ('"name": "ok", "description": "\\ud800x"', {"description": [SURROGATE]}),
    ('"name": "ok", "metadata": {"color": "\\u0000"}', {"metadata.color": [NUL]}),
    ('"name": "ok", "metadata": {"color": "\\ud800"}', {"metadata.color": [SURROGATE]}),
    (
        '"name": "ok", "metadata": {"tags": ["fine", "\\udfff"]}',
        {"metadata.tags.1": ["Surrogate characters are not allowed: U+DFFF."]},
    ),
    ('"name": "ok", "metadata": {"a": {"b": [{"c": "\\u0000"}]}}', {"metadata.a.b.0.c": [NUL]}),
    ('"name": "ok", "metadata": {"\\u0000": 1}', {"metadata": [f"In a key: {NUL}"]}),
    (
        '"name": "ok", "metadata": {"a": {"k\\ud800": 1}}',
        {"metadata.a": [f"In a key: {SURROGATE}"]},
    ),
    # The high half of a pair without its low half.
    (
        '"name": "ok", "metadata": {"e": "\\ud83d x"}',
        {"metadata.e": ["Surrogate characters are not allowed: U+D83D."]},
    ),
]
IDS = [
    "nul-name",
    "surrogate-name",
    "nul-description",
    "surrogate-description",
    "nul-value",
    "surrogate-value",
    "surrogate-in-list",
    "nul-deep",
    "nul-key",
    "surrogate-key-deep",
    "half-pair",
]


@pytest.mark.django_db
@pytest.mark.parametrize(("fields", "field_errors"), UNSTORABLE_STRINGS, ids=IDS)
def test_unstorable_strings_are_400_with_their_path_on_create(
    api: APIClient, fields: str, field_errors: dict[str, list[str]]
) -> None:
    response = send(api, "POST", LIST, "{" + fields + "}")
    assert response.status_code == 400, response.content
    body = error_of(response)
    assert body["code"] == "validation_error"
    assert body["details"] == {"field_errors": field_errors}
    assert Workspace.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("fields", "field_errors"), UNSTORABLE_STRINGS, ids=IDS)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_unstorable_strings_are_400_with_their_path_on_update(
    api: APIClient,
    workspace: dict[str, Any],
    method: str,
    fields: str,
    field_errors: dict[str, list[str]],
) -> None:
    response = send(api, method, detail(workspace["id"]), "{" + fields + "}")
    assert response.status_code == 400, response.content
    assert error_of(response)["details"] == {"field_errors": field_errors}
    stored = Workspace.objects.get(id=workspace["id"])
    assert (stored.name, stored.metadata) == ("Target", {"keep": "me"})


@pytest.mark.django_db
def test_a_paired_surrogate_escape_is_one_character_and_is_stored(api: APIClient) -> None:
    body = '{"name": "\\ud83d\\ude00", "metadata": {"\\ud83d\\ude00": "ok"}}'
    response = send(api, "POST", LIST, body)
    assert response.status_code == 201, response.content
    assert api.get(detail(response.json()["id"])).json()["metadata"] == {"😀": "ok"}


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("metadata", "field_errors"),
    [
        ('{"n": 9223372036854775808}', {"metadata.n": [NUMBER]}),
        ('{"n": -9223372036854775809}', {"metadata.n": [NUMBER]}),
        ('{"n": [123456789012345678901234567890]}', {"metadata.n.0": [NUMBER]}),
        ('{"n": 1e19}', {"metadata.n": [NUMBER]}),
        # PostgreSQL would read 1e300 back as a 301-digit integer.
        ('{"n": 1e300}', {"metadata.n": [NUMBER]}),
        ('{"n": 1e400}', {"metadata.n": ["A valid number is required."]}),
        ('{"a": {"n": -1E+999}}', {"metadata.a.n": ["A valid number is required."]}),
    ],
    ids=["2**63", "-2**63-1", "30-digits", "1e19", "1e300", "1e400", "-1e999"],
)
def test_numbers_beyond_64_bits_are_400_with_their_path(
    api: APIClient, metadata: str, field_errors: dict[str, list[str]]
) -> None:
    response = send(api, "POST", LIST, '{"name": "N", "metadata": ' + metadata + "}")
    assert response.status_code == 400, response.content
    assert error_of(response)["details"] == {"field_errors": field_errors}


@pytest.mark.django_db
def test_a_number_with_thousands_of_digits_is_400_parse_error(api: APIClient) -> None:
    response = send(api, "POST", LIST, '{"name": "N", "metadata": {"n": ' + "9" * 5000 + "}}")
    assert response.status_code == 400
    assert error_of(response)["message"] == "JSON parse error - a number has too many digits"


@pytest.mark.django_db
def test_numbers_at_the_limits_are_stored_and_read_back_equal(api: APIClient) -> None:
    metadata = {
        "max": INT64_MAX,
        "min": INT64_MIN,
        "negative_zero": -0.0,
        "tiny": 1e-300,
        "big_float": 9.2e18,
        "fraction": 0.1,
        "exponent": 1.5e-7,
        "true": True,
    }
    response = api.post(LIST, {"name": "Limits", "metadata": metadata}, format="json")
    assert response.status_code == 201, response.content
    stored = api.get(detail(response.json()["id"])).json()["metadata"]
    # PostgreSQL gives 9.2e18 back as the integer 9200000000000000000 and -0.0 as 0: equal.
    assert stored == metadata


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "5", "Not a valid string."),
        ("name", "1e400", "Not a valid string."),
        ("name", "true", "Not a valid string."),
        ("name", '{"a": 1}', "Not a valid string."),
        ("name", "null", "This field may not be null."),
        ("description", "-0", "Not a valid string."),
        ("description", "[1]", "Not a valid string."),
    ],
)
def test_a_string_field_refuses_other_types(
    api: APIClient, field: str, value: str, message: str
) -> None:
    # DRF's CharField would store 5 as "5" and 1e400 as "inf".
    body = '{"name": "ok", "' + field + '": ' + value + "}"
    response = send(api, "POST", LIST, body)
    assert response.status_code == 400, response.content
    assert error_of(response)["details"] == {"field_errors": {field: [message]}}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "limit"),
    [
        ({"name": "x" * 99 + "  "}, "name", 100),
        ({"name": "ok", "description": " " * 1001}, "description", 1000),
        ({"name": "ok", "description": "\n" * 5000}, "description", 1000),
    ],
)
def test_lengths_are_of_the_string_as_sent_whitespace_included(
    api: APIClient, fields: dict[str, str], field: str, limit: int
) -> None:
    response = api.post(LIST, fields, format="json")
    assert response.status_code == 400, response.content
    assert error_of(response)["details"] == {
        "field_errors": {field: [f"Ensure this field has no more than {limit} characters."]}
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "status", "fields"),
    [
        ({"limit": "1e3"}, 400, {"limit"}),
        ({"limit": ""}, 400, {"limit"}),  # empty is not absent
        ({"limit": "5", "offset": ""}, 400, {"offset"}),
        ({"limit": "9" * 2000}, 400, {"limit"}),
        ({"limit": "Infinity"}, 400, {"limit"}),
        ({"limit": "NaN"}, 400, {"limit"}),
        ({"limit": "\x00"}, 400, {"limit"}),
        ({"offset": str(2**63)}, 400, {"offset"}),
        ({"offset": "-0"}, 200, set()),
        ({"limit": "100", "offset": "1000000000"}, 200, set()),
        ({"limit": " 7 "}, 200, set()),
        ({"limit": "٣"}, 200, set()),  # Python's int() reads Arabic-Indic digits: 3
    ],
)
def test_paging_parameters_are_bounded(
    api: APIClient, params: dict[str, str], status: int, fields: set[str]
) -> None:
    response = api.get(LIST, params)
    assert response.status_code == status, response.content
    if status == 400:
        assert set(error_of(response)["details"]["field_errors"]) == fields


# --- headers ---------------------------------------------------------------------------------

# What a server hands Django: header bytes decoded as latin-1 (WSGI and ASGI alike), so any
# value here is a string of code points below 256.
WEIRD_VALUES = ["\x01\x02", "\xff\xfe", "Ã©", "\x7f", "a" * 8000, " ", "=;=,;", '"\\', "*/*;q=nan"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", WEIRD_VALUES)
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("HTTP_AUTHORIZATION", {401}),
        ("HTTP_AUTHORIZATION_TOKEN", {401}),  # "Token <value>"
        ("CONTENT_TYPE", {201, 400, 415}),  # "*/*" is JSON too
        ("HTTP_ACCEPT", {201, 406}),
        ("HTTP_X_CORRELATION_ID", {201}),
        ("HTTP_HOST", {400}),
        ("HTTP_IF_NONE_MATCH", {201}),
        ("HTTP_IF_MODIFIED_SINCE", {201}),
        ("HTTP_COOKIE", {201}),
        ("HTTP_ORIGIN", {201}),
        ("HTTP_X_FORWARDED_FOR", {201}),
        ("HTTP_ACCEPT_LANGUAGE", {201}),
        ("CONTENT_LENGTH", {201, 400}),
    ],
)
def test_weird_header_values_are_never_a_server_error(
    api: APIClient, header: str, expected: set[int], value: str
) -> None:
    client, content_type = api, "application/json"
    headers: dict[str, Any] = {}
    if header.startswith("HTTP_AUTHORIZATION"):
        client = APIClient()  # its own credentials would replace the header
        token = header == "HTTP_AUTHORIZATION_TOKEN"
        headers["HTTP_AUTHORIZATION"] = f"Token {value}" if token else value
    elif header == "CONTENT_TYPE":
        content_type = value
    else:
        headers[header] = value
    body: Any = json.dumps({"name": f"W {uuid.uuid4().hex[:8]}"}).encode()
    response = client.generic("POST", LIST, body, content_type=content_type, **headers)
    assert response.status_code in expected, (response.status_code, response.content[:300])
    if header == "HTTP_X_CORRELATION_ID":
        uuid.UUID(response["X-Correlation-ID"])  # none of the values is a valid id: replaced
    if response.status_code >= 400:
        if response["Content-Type"] == "application/problem+json":
            assert json.loads(response.content)["correlation_id"] == response["X-Correlation-ID"]
        else:
            assert error_of(response)["code"]


@pytest.mark.django_db
def test_a_bad_charset_in_content_type_is_400_parse_error(api: APIClient) -> None:
    for charset in ("bz2_codec", "utf-16"):
        content_type = f"application/json; charset={charset}"
        response = send(api, "POST", LIST, b'{"name": "x"}', content_type)
        assert response.status_code == 400
        assert error_of(response)["code"] == "parse_error"


def _raw_request(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` as is (httpx would refuse the bytes) and read the whole answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        decoded, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            decoded, rest = decoded + rest[:size], rest[size + 2 :]
        body = decoded
    return int(lines[0].split()[1]), headers, body


@dataclass
class Served:
    url: str
    token: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A daphne process on a database of its own (SQLite), with one user."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'db.sqlite3'}"}
    token = make_accounts(env["DATABASE_URL"], ("hostile",)).accounts["hostile"]["token"]
    with DaphneServer(env=env) as server:
        yield Served(server.url, token)


@pytest.mark.parametrize(
    ("header", "value", "status", "code"),
    [
        (b"Authorization", b"Token \xff\xfe", 401, "authentication_error"),
        (b"Authorization", b"\xc3\xa9\x01", 401, "authentication_error"),
        (b"Content-Type", b"\xff", 415, "unsupported_media_type"),
        (b"Content-Type", b"application/json; charset=bz2_codec", 400, "parse_error"),
        (b"Accept", b"\xff\x01", 406, "not_acceptable"),
        (b"X-Correlation-ID", b"\xff" * 200, 201, None),
        (b"Host", b"\xff\xfe", 400, "bad_request"),
        (b"If-None-Match", b'W/"\xff"', 201, None),
        # Twisted refuses a NUL in any header line with a bare 400 before the application
        # runs: no envelope, but no 5xx either.
        (b"X-Correlation-ID", b"a\x00b", 400, None),
    ],
)
def test_weird_header_bytes_through_daphne(
    served: Served, header: bytes, value: bytes, status: int, code: str | None
) -> None:
    body = json.dumps({"name": f"D {uuid.uuid4().hex[:8]}"}).encode()
    headers = {
        b"Host": b"127.0.0.1",
        b"Authorization": b"Token " + served.token.encode(),
        b"Content-Type": b"application/json",
        b"Content-Length": str(len(body)).encode(),
        b"Connection": b"close",
    }
    headers[header] = value
    request = (
        b"POST /api/workspaces/ HTTP/1.1\r\n"
        + b"".join(name + b": " + content + b"\r\n" for name, content in headers.items())
        + b"\r\n"
        + body
    )
    got_status, got_headers, got_body = _raw_request(served.url, request)
    assert got_status == status, got_body[:300]
    if code is not None:
        error = json.loads(got_body)["error"]
        assert error["code"] == code
        assert error["correlation_id"] == got_headers["x-correlation-id"]
    if header == b"X-Correlation-ID" and status == 201:
        assert uuid.UUID(got_headers["x-correlation-id"])  # a new one, the value not echoed


def test_a_slashless_write_through_daphne_keeps_its_body(served: Served) -> None:
    with httpx.Client(
        base_url=served.url, timeout=10, headers={"Authorization": f"Token {served.token}"}
    ) as client:
        created = client.post("/api/workspaces", json={"name": "No slash"})
        assert created.status_code == 201, created.text
        assert created.headers["Location"] == f"/api/workspaces/{created.json()['id']}/"
        patched = client.patch(f"/api/workspaces/{created.json()['id']}", json={"name": "Still"})
        assert patched.status_code == 200, patched.text
        assert patched.json()["name"] == "Still"


# --- property-based: generated hostile bodies, on PostgreSQL -----------------------------------

MAX_EXAMPLES = int(os.environ.get("HOSTILE_MAX_EXAMPLES", "600"))


class Raw(str):
    """JSON text to put in a body as it is (literals no Python value encodes to)."""


SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
SPECIAL = st.sampled_from(["\x00", "\u2028", "\ufeff", "\uffff", "\x1f", " ", "\\", '"', "é"])
CHARS = st.one_of(st.characters(), SURROGATES, SPECIAL)
TEXT = st.one_of(
    st.text(CHARS, max_size=20),
    # Huge strings, within the body size limit and beyond it.
    st.builds(
        lambda c, n: c * n, st.sampled_from(["a", "\x00", "😀", " "]), st.integers(0, 10_000)
    ),
)
NUMBERS = st.one_of(
    st.integers(),
    st.sampled_from([INT64_MAX, INT64_MAX + 1, INT64_MIN, INT64_MIN - 1, 2**64, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            Raw("1e400"),
            Raw("-1e400"),
            Raw("-0"),
            Raw("1E+999"),
            Raw("1e-400"),
            Raw("0.1e308"),
            Raw("-0.0"),
            Raw("9" * 4000),
            Raw("9" * 4400),
        ]
    ),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
DEEP = st.builds(
    lambda depth, open_, inner: Raw(open_ * depth + inner + ("]" if open_ == "[" else "}") * depth),
    st.integers(1, 12_000),
    st.sampled_from(["[", '{"a":']),
    st.sampled_from(["1", '"\\u0000"', "[]", "NaN"]),
)
ANY = st.one_of(VALUES, DEEP, TEXT)


def encode(value: Any, ascii_only: bool) -> str:
    """JSON text for `value`; NaN and infinities as the literals some clients send."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        items = (
            f"{json.dumps(k, ensure_ascii=ascii_only)}:{encode(v, ascii_only)}"
            for k, v in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)


# Plausible text, so that many bodies are valid but for one hostile spot (or none).
NICE = st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=30)


@st.composite
def bodies(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]]) -> bytes:
    """A request body: mostly an object of the endpoint's fields, sometimes anything at all."""
    shape = draw(st.sampled_from(["fields", "fields", "fields", "fields", "any", "garbage"]))
    if shape == "garbage":
        return draw(st.binary(max_size=200))
    ascii_only = draw(st.booleans())
    if shape == "any":
        value: Any = draw(ANY)
    else:
        value = {}
        for name, plausible in fields.items():
            if draw(st.integers(0, 4)):  # each field is there four times in five
                value[name] = draw(st.one_of(plausible, plausible, plausible, TEXT, ANY))
        value.update(draw(st.dictionaries(TEXT, VALUES, max_size=2)))
    # Without ensure_ascii, unpaired surrogates go out as the bytes UTF-8 forbids for them.
    return encode(value, ascii_only).encode("utf-8", "surrogatepass")


STORABLE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        NICE,
        st.integers(INT64_MIN, INT64_MAX),
        st.floats(min_value=-9e18, max_value=9e18),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(NICE, children, max_size=3)
    ),
    max_leaves=8,
)
WORKSPACE_FIELDS = {
    "name": NICE,
    "description": st.one_of(st.just(""), NICE),
    # Storable values, with a hostile one among them now and then.
    "metadata": st.dictionaries(NICE, st.one_of(STORABLE, STORABLE, STORABLE, ANY), max_size=5),
}
CREDENTIALS = {
    "username": st.one_of(st.just("alice"), NICE),
    "password": st.one_of(st.just("alice-password"), NICE),
}


def envelope_or_body(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/json", response.content[:300]
    body = json.loads(response.content)
    if response.status_code >= 400:
        error_of(response)
    return dict(body) if isinstance(body, dict) else {}


HEALTH = [
    HealthCheck.function_scoped_fixture,
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
    HealthCheck.filter_too_much,
]


@pytest.fixture
def unthrottled(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "1000000/minute", "login": "1000000/minute"},
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_generated_hostile_bodies_never_get_a_5xx_from_the_workspace_endpoints(
    api: APIClient, other_api: APIClient, unthrottled: None
) -> None:
    mine = api.post(LIST, {"name": "Mine"}, format="json").json()["id"]
    theirs = other_api.post(LIST, {"name": "Theirs"}, format="json").json()["id"]
    targets = {
        "POST list": ("POST", LIST),
        "PUT mine": ("PUT", detail(mine)),
        "PATCH mine": ("PATCH", detail(mine)),
        "PUT theirs": ("PUT", detail(theirs)),
        "PATCH missing": ("PATCH", detail(uuid.uuid4())),
    }
    counted: Counter[str] = Counter()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=HEALTH,
    )
    @given(target=st.sampled_from(sorted(targets)), body=bodies(WORKSPACE_FIELDS))
    def check(target: str, body: bytes) -> None:
        method, path = targets[target]
        response = send(api, method, path, body)
        counted[f"{target} {response.status_code}"] += 1
        assert response.status_code < 500, response.content[:500]
        data = envelope_or_body(response)
        if target.endswith(("theirs", "missing")):
            # Whatever the body: a workspace the caller cannot see is not found (or too big
            # to be read at all).
            assert response.status_code in (404, 413), response.content[:300]
            return
        assert response.status_code in (200, 201, 400, 409, 413), response.content[:300]
        if response.status_code in (200, 201):
            # What the API answered is what the database stored.
            stored = api.get(detail(data["id"])).json()
            assert stored["metadata"] == data["metadata"]
            assert (stored["name"], stored["description"]) == (data["name"], data["description"])

    check()
    total = sum(counted.values())
    print(f"\nhostile bodies to the workspace endpoints: {total} examples")
    print("\n".join(f"  {key}: {n}" for key, n in sorted(counted.items())))
    assert total >= MAX_EXAMPLES // 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_generated_hostile_bodies_never_get_a_5xx_from_the_token_endpoint(
    user: User, unthrottled: None
) -> None:
    client = Client()
    counted: Counter[int] = Counter()

    @settings(
        max_examples=MAX_EXAMPLES // 3,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=HEALTH,
    )
    @given(body=bodies(CREDENTIALS))
    def check(body: bytes) -> None:
        response = client.generic("POST", "/api/auth/token/", body, content_type="application/json")
        counted[response.status_code] += 1
        assert response.status_code < 500, response.content[:500]
        envelope_or_body(response)
        assert response.status_code in (200, 400, 401, 413, 429), response.content[:300]

    check()
    total = sum(counted.values())
    statuses = dict(sorted(counted.items()))
    print(f"\nhostile bodies to the token endpoint: {total} examples, statuses {statuses}")
    assert total >= MAX_EXAMPLES // 6
